package govern.data_classification_test

import rego.v1

import data.govern.testdata_test as t

restricted := {"classification": "restricted"}

test_dc_001_deny_restricted_to_ibm if "DC-001" in t.denies(t.submission(t.with_dataset(t.paid_experiment, restricted), t.context))

test_dc_001_deny_restricted_to_unknown_backend if {
	exp := json.patch(t.with_dataset(t.paid_experiment, restricted), [{"op": "replace", "path": "/spec/backend", "value": {"vendor": "x", "device": "y"}}])
	"DC-001" in t.denies(t.submission(exp, t.context))
}

test_dc_001_allow_restricted_on_local if not "DC-001" in t.denies(t.submission(t.with_dataset(t.local_experiment, restricted), t.context))

test_dc_001_allow_restricted_on_prem if {
	exp := json.patch(t.with_dataset(t.local_experiment, restricted), [{"op": "replace", "path": "/spec/backend", "value": {"vendor": "onprem", "device": "onprem_iqm_spark"}}])
	not "DC-001" in t.denies(t.submission(exp, t.context))
}

test_dc_001_deny_restricted_falling_back_to_external if {
	exp := json.patch(t.with_dataset(t.local_experiment, restricted), [{"op": "add", "path": "/spec/fallback", "value": {"device": "ibm_brisbane", "on": ["unavailable"]}}])
	"DC-001" in t.denies(t.submission(exp, t.context))
}

test_dc_001_allow_restricted_falling_back_to_simulator if {
	exp := json.patch(t.with_dataset(t.local_experiment, restricted), [{"op": "add", "path": "/spec/fallback", "value": {"device": "aer_simulator", "on": ["unavailable"]}}])
	not "DC-001" in t.denies(t.submission(exp, t.context))
}

test_dc_001_not_waivable if {
	inp := t.submission(t.with_dataset(t.paid_experiment, restricted), object.union(t.context, {"waivers": [{"id": "W1", "rule": "DC-001", "scope": {"team": "materials-rnd", "experiment": "*"}, "status": "approved", "requestedBy": "a", "approver": "b", "reason": "r", "expiresNs": t.now + t.day}]}))
	"DC-001" in t.denies(inp)
	count(t.waived(inp)) == 0
}

confidential := {"classification": "confidential"}

test_dc_002_allow_confidential_with_dpa_and_cleared_sandbox if not "DC-002" in t.denies(t.submission(t.with_dataset(t.paid_experiment, confidential), t.context))

test_dc_002_deny_sandbox_not_cleared if {
	inp := t.paid_with_sandbox([{"op": "replace", "path": "/allowsConfidential", "value": false}])
	"DC-002" in t.denies(object.union(inp, {"experiment": t.with_dataset(t.paid_experiment, confidential)}))
}

test_dc_002_deny_vendor_without_dpa if {
	ctx := json.patch(t.context, [{"op": "replace", "path": "/vendors/ibm/dataProcessingAgreement", "value": false}])
	"DC-002" in t.denies(t.submission(t.with_dataset(t.paid_experiment, confidential), ctx))
}

test_dc_003_deny_pii_not_pseudonymized if "DC-003" in t.denies(t.submission(t.with_dataset(t.paid_experiment, {"containsPII": true, "pseudonymized": false}), t.context))

test_dc_003_allow_pii_pseudonymized if not "DC-003" in t.denies(t.submission(t.with_dataset(t.paid_experiment, {"containsPII": true, "pseudonymized": true}), t.context))

test_dc_003_allow_pii_on_local_simulator if not "DC-003" in t.denies(t.submission(t.with_dataset(t.local_experiment, {"containsPII": true}), t.context))

test_dc_004_deny_eu_data_on_us_device if "DC-004" in t.denies(t.submission(t.with_dataset(t.paid_experiment, {"region": "eu-de"}), t.context))

test_dc_004_deny_confidential_without_region if {
	exp := json.patch(t.with_dataset(t.paid_experiment, confidential), [{"op": "remove", "path": "/spec/datasets/0/region"}])
	"DC-004" in t.denies(t.submission(exp, t.context))
}

test_dc_004_deny_unknown_region if "DC-004" in t.denies(t.submission(t.with_dataset(t.paid_experiment, {"region": "mars-1"}), t.context))

test_dc_004_allow_same_jurisdiction if not "DC-004" in t.denies(t.submission(t.with_dataset(t.paid_experiment, {"region": "us-east-1"}), t.context))

test_dc_004_allow_public_data_anywhere if not "DC-004" in t.denies(t.submission(t.with_dataset(t.paid_experiment, {"region": "eu-de", "classification": "public"}), t.context))

test_dc_004_allow_internal_without_region if {
	exp := json.patch(t.paid_experiment, [{"op": "remove", "path": "/spec/datasets/0/region"}])
	not "DC-004" in t.denies(t.submission(exp, t.context))
}
