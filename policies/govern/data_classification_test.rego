package govern.data_classification_test

import data.govern.data_classification
import data.govern.testdata_test as t

restricted := {"classification": "restricted"}

confidential := {"classification": "confidential"}

# Patches of a policy input: an on-prem backend, a fallback device, no DPA, a sandbox not cleared.
onprem := t.put("/experiment/spec/backend", {"vendor": "onprem", "device": "onprem_iqm_spark"})

falling_back_to(device) := t.add("/experiment/spec/fallback", {"device": device})

no_dpa := t.put("/context/vendors/ibm/dataProcessingAgreement", false)

not_cleared := t.put("/context/sandboxes/SBX-1/allowsConfidential", false)

test_dc_001_deny_restricted_to_ibm if {
	findings := data_classification.deny with input as t.paid_dataset(restricted)
	findings == {{
		"rule": "DC-001",
		"message": concat(" ", [
			"dataset s3://rnd-data/molecules/h2 is restricted and may only run on a local simulator or on-prem",
			"backend, not on device 'ibm_brisbane' (vendor 'ibm', external)",
		]),
		"resource": "spec.datasets[0]",
		"evidence": {
			"dataset": "s3://rnd-data/molecules/h2", "classification": "restricted",
			"backendClass": "external",
		},
	}}
}

test_dc_001_deny_restricted_to_unknown_backend if {
	inp := json.patch(t.paid_dataset(restricted), [t.put("/experiment/spec/backend/vendor", "x")])
	findings := data_classification.deny with input as inp
	some finding in findings
	finding.rule == "DC-001"
	finding.evidence.backendClass == "unknown"
}

test_dc_001_deny_unknown_classification_counts_as_restricted if {
	findings := data_classification.deny with input as t.paid_dataset({"classification": "top-secret"})
	"DC-001" in t.rules(findings)
}

test_dc_001_allow_restricted_on_local if {
	findings := data_classification.deny with input as t.local_dataset(restricted)
	not "DC-001" in t.rules(findings)
}

test_dc_001_allow_restricted_on_prem if {
	inp := json.patch(t.local_dataset(restricted), [onprem])
	findings := data_classification.deny with input as inp
	not "DC-001" in t.rules(findings)
}

test_dc_001_deny_restricted_falling_back_to_external if {
	inp := json.patch(t.local_dataset(restricted), [falling_back_to("ibm_brisbane")])
	findings := data_classification.deny with input as inp
	findings == {{
		"rule": "DC-001",
		"message": concat(" ", [
			"dataset s3://rnd-data/molecules/h2 is restricted, so the fallback device 'ibm_brisbane' (external)",
			"may not receive it; fall back to a local simulator or on-prem backend",
		]),
		"resource": "spec.fallback.device",
		"evidence": {
			"dataset": "s3://rnd-data/molecules/h2", "classification": "restricted",
			"fallbackClass": "external",
		},
	}}
}

test_dc_001_deny_restricted_falling_back_to_unknown_device if {
	inp := json.patch(t.local_dataset(restricted), [falling_back_to("qc_pegasus_1")])
	findings := data_classification.deny with input as inp
	some finding in findings
	finding.evidence.fallbackClass == "unknown"
}

test_dc_001_allow_restricted_falling_back_to_simulator if {
	inp := json.patch(t.local_dataset(restricted), [falling_back_to("aer_simulator")])
	findings := data_classification.deny with input as inp
	not "DC-001" in t.rules(findings)
}

test_dc_001_deny_not_waivable if {
	waiver := object.union(t.waiver, {"rule": "DC-001", "scope": {"team": "materials-rnd", "experiment": "*"}})
	inp := json.patch(t.paid_dataset(restricted), [t.put("/context/waivers", [waiver])])
	decision := data.govern.decision with input as inp
		with data.govern.custom as {}
	"DC-001" in t.rules(decision.deny)
	decision.waived == []
}

test_dc_002_allow_confidential_with_dpa_and_cleared_sandbox if {
	findings := data_classification.deny with input as t.paid_dataset(confidential)
	not "DC-002" in t.rules(findings)
}

test_dc_002_allow_confidential_on_prem if {
	inp := json.patch(t.local_dataset(confidential), [onprem])
	findings := data_classification.deny with input as inp
	not "DC-002" in t.rules(findings)
}

test_dc_002_deny_sandbox_not_cleared if {
	inp := json.patch(t.paid_dataset(confidential), [not_cleared])
	findings := data_classification.deny with input as inp
	some finding in findings
	finding.rule == "DC-002"
	finding.message == concat(" ", [
		"dataset s3://rnd-data/molecules/h2 is confidential and goes to device 'ibm_brisbane' (vendor 'ibm',",
		"external), but sandbox 'SBX-1' is not cleared for confidential data",
	])
	finding.evidence == {"dataset": "s3://rnd-data/molecules/h2", "vendor": "ibm", "sandbox": "SBX-1"}
}

test_dc_002_deny_vendor_without_dpa if {
	inp := json.patch(t.paid_dataset(confidential), [no_dpa])
	findings := data_classification.deny with input as inp
	some finding in findings
	finding.rule == "DC-002"
	endswith(finding.message, "but vendor 'ibm' has no data-processing agreement on record")
}

test_dc_002_deny_neither_dpa_nor_cleared_sandbox if {
	inp := json.patch(t.paid_dataset(confidential), [no_dpa, not_cleared])
	findings := data_classification.deny with input as inp
	some finding in findings
	finding.rule == "DC-002"
	endswith(finding.message, concat(" ", [
		"but vendor 'ibm' has no data-processing agreement on record and",
		"sandbox 'SBX-1' is not cleared for confidential data",
	]))
}

test_dc_003_deny_pii_not_pseudonymized if {
	findings := data_classification.deny with input as t.paid_dataset({"containsPII": true})
	some finding in findings
	finding.rule == "DC-003"
	finding.message == concat(" ", [
		"dataset s3://rnd-data/molecules/h2 contains personal data that is not pseudonymized, and goes to",
		"device 'ibm_brisbane' (vendor 'ibm', external)",
	])
	finding.evidence == {"dataset": "s3://rnd-data/molecules/h2", "containsPII": true, "pseudonymized": false}
}

test_dc_003_deny_pii_on_prem if {
	inp := json.patch(t.local_dataset({"containsPII": true}), [onprem])
	findings := data_classification.deny with input as inp
	"DC-003" in t.rules(findings)
}

test_dc_003_allow_pii_pseudonymized if {
	findings := data_classification.deny with input as t.paid_dataset({"containsPII": true, "pseudonymized": true})
	not "DC-003" in t.rules(findings)
}

test_dc_003_allow_pii_on_local_simulator if {
	findings := data_classification.deny with input as t.local_dataset({"containsPII": true})
	not "DC-003" in t.rules(findings)
}

test_dc_004_deny_eu_data_on_us_device if {
	findings := data_classification.deny with input as t.paid_dataset({"region": "eu-de"})
	findings == {{
		"rule": "DC-004",
		"message": concat(" ", [
			"dataset s3://rnd-data/molecules/h2 must stay in jurisdiction 'eu' (region 'eu-de'), but device",
			"'ibm_brisbane' (vendor 'ibm', external) runs in region 'us-east' (jurisdiction 'us')",
		]),
		"resource": "spec.datasets[0]",
		"evidence": {"dataset": "s3://rnd-data/molecules/h2", "datasetRegion": "eu-de", "backendRegion": "us-east"},
	}}
}

test_dc_004_deny_confidential_without_region if {
	inp := json.patch(t.paid_dataset(confidential), [t.drop("/experiment/spec/datasets/0/region")])
	findings := data_classification.deny with input as inp
	some finding in findings
	finding.rule == "DC-004"
	contains(finding.message, "has no region, so its residency is unknown")
	finding.evidence.datasetRegion == ""
}

test_dc_004_deny_unknown_region if {
	findings := data_classification.deny with input as t.paid_dataset({"region": "mars-1"})
	some finding in findings
	finding.rule == "DC-004"
	contains(finding.message, "is in region 'mars-1', which is not in the region table, so its residency is unknown")
}

test_dc_004_deny_region_missing_from_the_table if {
	findings := data_classification.deny with input as t.paid_dataset({"region": "us-east-1"})
		with data.govern.regions as {"us-east": "us"}
	"DC-004" in t.rules(findings)
}

test_dc_004_deny_backend_region_from_the_catalogue if {
	inp := json.patch(t.paid_dataset({"region": "eu-de"}), [t.drop("/experiment/spec/backend/region")])
	findings := data_classification.deny with input as inp
	some finding in findings
	finding.rule == "DC-004"
	finding.evidence.backendRegion == "us-east"
}

# A dataset without a region before the one that breaks residency: each dataset is judged on its own.
test_dc_004_deny_the_dataset_after_one_without_region if {
	inp := json.patch(t.paid, [
		t.drop("/experiment/spec/datasets/0/region"),
		t.add("/experiment/spec/datasets/-", {
			"namespace": "s3://eu", "name": "cohort", "classification": "internal", "region": "eu-de",
		}),
	])
	findings := data_classification.deny with input as inp
	{finding.resource | some finding in findings; finding.rule == "DC-004"} == {"spec.datasets[1]"}
}

test_dc_004_allow_same_jurisdiction if {
	findings := data_classification.deny with input as t.paid_dataset({"region": "us-east-1"})
	not "DC-004" in t.rules(findings)
}

test_dc_004_allow_backend_region_in_the_manifest if {
	inp := json.patch(t.paid_dataset({"region": "eu-de"}), [t.put("/experiment/spec/backend/region", "eu-de")])
	findings := data_classification.deny with input as inp
	not "DC-004" in t.rules(findings)
}

test_dc_004_allow_public_data_anywhere if {
	findings := data_classification.deny with input as t.paid_dataset({"region": "eu-de", "classification": "public"})
	not "DC-004" in t.rules(findings)
}

test_dc_004_allow_internal_without_region if {
	inp := json.patch(t.paid, [t.drop("/experiment/spec/datasets/0/region")])
	findings := data_classification.deny with input as inp
	not "DC-004" in t.rules(findings)
}

test_dc_004_allow_on_local_simulator if {
	findings := data_classification.deny with input as t.local_dataset({"region": "eu-de"})
	not "DC-004" in t.rules(findings)
}

test_clean_submissions_have_no_data_classification_findings if {
	count(data_classification.deny) == 0 with input as t.paid
	count(data_classification.deny) == 0 with input as t.local
}
