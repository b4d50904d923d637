package govern.security_test

import data.govern.security
import data.govern.testdata_test as t

secret_found := {
	"field": "spec.credentials.token", "kind": "high_entropy_token",
	"label": "a literal token-like value in a credential field",
}

credential(value) := t.put("/experiment/spec/credentials/token", value)

endpoint(url) := t.add("/experiment/spec/backend/endpoint", url)

source(url) := t.add("/experiment/spec/source", {"type": "git", "url": url})

shots(n) := t.put("/experiment/spec/shots", n)

qubits(n) := t.put("/circuit/qubits", n)

test_sec_001_deny_scanner_found_a_secret if {
	findings := security.deny with input as json.patch(t.paid, [t.put("/secrets", [secret_found])])
	findings == {{
		"rule": "SEC-001",
		"message": concat(" ", [
			"spec.credentials.token holds a literal token-like value in a credential field; remove it from the",
			"manifest, rotate it, and reference it as env:NAME or vault:path",
		]),
		"resource": "spec.credentials.token",
		"evidence": {"field": "spec.credentials.token", "kind": "high_entropy_token"},
	}}
}

test_sec_001_deny_not_waivable if {
	waiver := object.union(t.waiver, {"rule": "SEC-001"})
	inp := json.patch(t.paid, [
		t.put("/secrets", [secret_found]),
		t.put("/context/waivers", [waiver]),
	])
	decision := data.govern.decision with input as inp
		with data.govern.custom as {}
	"SEC-001" in t.rules(decision.deny)
	decision.waived == []
}

test_sec_001_allow_no_secrets if {
	findings := security.deny with input as t.paid
	not "SEC-001" in t.rules(findings)
}

test_sec_002_deny_literal_credential if {
	findings := security.deny with input as json.patch(t.paid, [credential("[redacted]")])
	findings == {{
		"rule": "SEC-002",
		"message": concat(" ", [
			"credential 'token' is not a reference; credentials must look like env:IBM_QUANTUM_TOKEN or",
			"vault:secret/quantum/ibm#token",
		]),
		"resource": "spec.credentials.token",
		"evidence": {"field": "spec.credentials.token"},
	}}
}

test_sec_002_deny_malformed_references if {
	every value in ["env:", "vault:", "env:A B", "ENV:X"] {
		findings := security.deny with input as json.patch(t.paid, [credential(value)])
		"SEC-002" in t.rules(findings)
	}
}

test_sec_002_allow_env_and_vault_references if {
	inp := json.patch(t.paid, [t.add("/experiment/spec/credentials/aws", "vault:secret/braket#key")])
	findings := security.deny with input as inp
	not "SEC-002" in t.rules(findings)
}

test_sec_002_allow_no_credentials if {
	findings := security.deny with input as t.local
	not "SEC-002" in t.rules(findings)
}

test_sec_003_deny_plain_http_endpoint if {
	findings := security.deny with input as json.patch(t.paid, [endpoint("http://proxy.example.com")])
	findings == {{
		"rule": "SEC-003",
		"message": "spec.backend.endpoint uses 'http'; remote endpoints must use https:// (or ssh for a git source)",
		"resource": "spec.backend.endpoint",
		"evidence": {"field": "spec.backend.endpoint", "scheme": "http"},
	}}
}

test_sec_003_deny_plain_http_source if {
	findings := security.deny with input as json.patch(t.paid, [source("http://git.example.com/repo.git")])
	{finding.resource | some finding in findings; finding.rule == "SEC-003"} == {"spec.source.url"}
}

test_sec_003_deny_url_without_scheme if {
	findings := security.deny with input as json.patch(t.paid, [source("git.example.com/repo.git")])
	some finding in findings
	finding.evidence == {"field": "spec.source.url", "scheme": "no scheme"}
}

test_sec_003_allow_https_and_ssh if {
	every patches in [
		[endpoint("https://proxy.example.com"), source("git@github.com:org/repo.git")],
		[endpoint("HTTPS://PROXY.EXAMPLE.COM"), source("ssh://git@github.com/org/repo.git")],
	] {
		findings := security.deny with input as json.patch(t.paid, patches)
		not "SEC-003" in t.rules(findings)
	}
}

test_sec_004_deny_too_many_shots if {
	findings := security.deny with input as json.patch(t.local, [shots(200000)])
	findings == {{
		"rule": "SEC-004",
		"message": "200000 shots is over the limit of 100000; split the run",
		"resource": "spec.shots",
		"evidence": {"shots": 200000, "maxShots": 100000},
	}}
}

test_sec_004_deny_shots_beyond_signed_64_bits if {
	findings := security.deny with input as json.patch(t.local, [shots(9223372036854775808)])
	some finding in findings
	finding.message == "9223372036854775808 shots is over the limit of 100000; split the run"
}

test_sec_004_deny_over_the_limit_on_record if {
	findings := security.deny with input as t.local
		with data.govern.limits.maxShots as 1000
	"SEC-004" in t.rules(findings)
}

test_sec_004_allow_within_limit if {
	findings := security.deny with input as json.patch(t.local, [shots(100000)])
	not "SEC-004" in t.rules(findings)
}

test_sec_005_deny_more_qubits_than_device if {
	inp := json.patch(t.local, [
		t.put("/experiment/spec/backend", {"vendor": "onprem", "device": "onprem_iqm_spark"}),
		qubits(6),
	])
	findings := security.deny with input as inp
	findings == {{
		"rule": "SEC-005",
		"message": "the circuit uses 6 qubits, more than device 'onprem_iqm_spark' has (5)",
		"resource": "spec.circuit",
		"evidence": {"qubits": 6, "capacity": 5},
	}}
}

test_sec_005_deny_more_qubits_than_the_limit if {
	findings := security.deny with input as json.patch(t.local, [qubits(161)])
	{finding.message | some finding in findings} == {
		"the circuit uses 161 qubits, more than the qubit limit (160)",
		"the circuit uses 161 qubits, more than device 'aer_simulator' has (32)",
	}
}

test_sec_005_allow_circuit_fits if {
	findings := security.deny with input as json.patch(t.paid, [qubits(127)])
	not "SEC-005" in t.rules(findings)
}

test_sec_006_deny_too_deep if {
	findings := security.deny with input as json.patch(t.local, [t.put("/circuit/depth", 20000)])
	findings == {{
		"rule": "SEC-006",
		"message": "the circuit depth 20000 is over the limit of 10000",
		"resource": "spec.circuit",
		"evidence": {"depth": 20000, "maxDepth": 10000},
	}}
}

test_sec_006_allow_shallow if {
	findings := security.deny with input as t.local
	not "SEC-006" in t.rules(findings)
}

no_labels := t.put("/experiment/metadata/labels", {})

test_sec_007_deny_paid_without_cost_centre if {
	findings := security.deny with input as json.patch(t.paid, [no_labels])
	findings == {{
		"rule": "SEC-007",
		"message": "paid backend 'ibm_brisbane' needs the label 'costCenter' for cost attribution",
		"resource": "metadata.labels",
		"evidence": {"label": "costCenter"},
	}}
}

test_sec_007_allow_local_without_labels if {
	findings := security.deny with input as json.patch(t.local, [no_labels])
	not "SEC-007" in t.rules(findings)
}

test_sec_007_allow_paid_with_cost_centre if {
	findings := security.deny with input as t.paid
	not "SEC-007" in t.rules(findings)
}

test_sec_008_deny_unknown_device if {
	findings := security.deny with input as json.patch(t.local, [device("qc_pegasus_1")])
	findings == {{
		"rule": "SEC-008",
		"message": concat(" ", [
			"device 'qc_pegasus_1' of vendor 'local' is not in the backend catalogue, so it cannot be checked and",
			"is denied; use a catalogued device or ask the platform team to add it",
		]),
		"resource": "spec.backend",
		"evidence": {"device": "qc_pegasus_1", "vendor": "local"},
	}}
}

test_sec_008_deny_vendor_mismatch if {
	inp := json.patch(t.paid, [t.put("/experiment/spec/backend/vendor", "ionq")])
	findings := security.deny with input as inp
	"SEC-008" in t.rules(findings)
}

test_sec_008_deny_unknown_fallback_device if {
	findings := security.deny with input as json.patch(t.paid, [fallback("qc_pegasus_1")])
	findings == {{
		"rule": "SEC-008",
		"message": concat(" ", [
			"fallback device 'qc_pegasus_1' is not in the backend catalogue, so the fallback could never be",
			"dispatched; use a catalogued device such as aer_simulator",
		]),
		"resource": "spec.fallback.device",
		"evidence": {"device": "qc_pegasus_1"},
	}}
}

test_sec_008_deny_not_waivable if {
	inp := json.patch(t.local, [
		device("qc_pegasus_1"),
		t.put("/context/waivers", [object.union(t.waiver, {"rule": "SEC-008"})]),
	])
	decision := data.govern.decision with input as inp
		with data.govern.custom as {}
	"SEC-008" in t.rules(decision.deny)
}

test_sec_008_allow_catalogued_backend_and_fallback if {
	findings := security.deny with input as json.patch(t.paid, [fallback("aer_simulator")])
	not "SEC-008" in t.rules(findings)
}

test_sec_008_allow_a_device_the_catalogue_on_record_has if {
	pegasus := {"vendor": "local", "class": "local_simulator", "qubits": 8}
	backends := object.union(data.govern.backends, {"qc_pegasus_1": pegasus})
	findings := security.deny with input as json.patch(t.local, [device("qc_pegasus_1")])
		with data.govern.backends as backends
	not "SEC-008" in t.rules(findings)
}

test_sec_009_allow_a_local_simulator_baseline if {
	findings := security.deny with input as json.patch(t.paid, [baseline("aer_simulator")])
	not "SEC-009" in t.rules(findings)
}

test_sec_009_deny_a_paid_baseline if {
	findings := security.deny with input as json.patch(t.local, [baseline("ibm_brisbane")])
	findings == {{
		"rule": "SEC-009",
		"message": concat(" ", [
			"baseline device 'ibm_brisbane' is external, not a catalogued local simulator;",
			"a baseline is the classical reference and runs on one, such as aer_simulator",
		]),
		"resource": "spec.baseline.simulator",
		"evidence": {"device": "ibm_brisbane", "class": "external"},
	}}
}

test_sec_009_deny_an_uncatalogued_baseline if {
	findings := security.deny with input as json.patch(t.local, [baseline("qc_pegasus_1")])
	"SEC-009" in t.rules(findings)
}

test_sec_009_deny_a_baseline_narrower_than_the_circuit if {
	inp := json.patch(t.local, [baseline("aer_simulator"), t.put("/circuit/qubits", 40)])
	findings := security.deny with input as inp
	some finding in findings
	finding.rule == "SEC-009"
	finding.evidence == {"device": "aer_simulator", "qubits": 32, "circuitQubits": 40}
}

test_sec_009_recorded_baseline_is_not_a_device if {
	inp := json.patch(t.local, [t.add("/experiment/spec/baseline", {"recorded": "7f0c3a52-6a38-4c6e-9f3e-5d2b8f1f2a10"})])
	findings := security.deny with input as inp
	not "SEC-009" in t.rules(findings)
}

baseline(name) := t.add("/experiment/spec/baseline", {"simulator": name})

device(name) := t.put("/experiment/spec/backend/device", name)

fallback(name) := t.add("/experiment/spec/fallback", {"device": name, "on": ["unavailable"]})

test_sec_101_deny_large_shot_count if {
	findings := security.warn with input as json.patch(t.local, [shots(60000)])
	findings == {{
		"rule": "SEC-101",
		"message": "60000 shots is a large run (warning above 50000); check that the precision needs it",
		"resource": "spec.shots",
		"evidence": {"shots": 60000},
	}}
}

test_sec_101_allow_normal_shot_count if {
	findings := security.warn with input as t.local
	not "SEC-101" in t.rules(findings)
}

test_sec_101_allow_over_the_limit if {
	findings := security.warn with input as json.patch(t.local, [shots(200000)])
	not "SEC-101" in t.rules(findings)
}
