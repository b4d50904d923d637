package govern.security_test

import rego.v1

import data.govern.testdata_test as t

secret_found := {"field": "spec.credentials.token", "kind": "high_entropy_token", "label": "a literal token-like value in a credential field"}

test_sec_001_deny_scanner_found_a_secret if {
	inp := object.union(t.paid, {"secrets": [secret_found]})
	"SEC-001" in t.denies(inp)
	some finding in data.govern.decide(inp).deny
	finding.rule == "SEC-001"
	finding.evidence == {"field": "spec.credentials.token", "kind": "high_entropy_token"}
	not finding.waivable
}

test_sec_001_allow_no_secrets if not "SEC-001" in t.denies(t.paid)

test_sec_002_deny_literal_credential if "SEC-002" in t.denies(t.paid_with([{"op": "replace", "path": "/spec/credentials/token", "value": "[redacted]"}]))

test_sec_002_deny_malformed_reference if "SEC-002" in t.denies(t.paid_with([{"op": "replace", "path": "/spec/credentials/token", "value": "env:"}]))

test_sec_002_allow_env_and_vault_references if not "SEC-002" in t.denies(t.paid_with([{"op": "add", "path": "/spec/credentials/aws", "value": "vault:secret/quantum/braket#key"}]))

test_sec_003_deny_plain_http_endpoint if "SEC-003" in t.denies(t.paid_with([{"op": "add", "path": "/spec/backend/endpoint", "value": "http://proxy.example.com"}]))

test_sec_003_deny_plain_http_source if "SEC-003" in t.denies(t.paid_with([{"op": "add", "path": "/spec/source", "value": {"type": "git", "url": "http://git.example.com/repo.git"}}]))

test_sec_003_allow_https_and_ssh if {
	inp := t.paid_with([
		{"op": "add", "path": "/spec/backend/endpoint", "value": "https://proxy.example.com"},
		{"op": "add", "path": "/spec/source", "value": {"type": "git", "url": "git@github.com:org/repo.git"}},
	])
	not "SEC-003" in t.denies(inp)
}

test_sec_004_deny_too_many_shots if "SEC-004" in t.denies(t.local_with([{"op": "replace", "path": "/spec/shots", "value": 200000}]))

test_sec_004_allow_within_limit if not "SEC-004" in t.denies(t.local)

test_sec_005_deny_more_qubits_than_device if {
	inp := object.union(t.local_with([{"op": "replace", "path": "/spec/backend", "value": {"vendor": "onprem", "device": "onprem_iqm_spark"}}]), {"circuit": object.union(t.circuit, {"qubits": 6})})
	"SEC-005" in t.denies(inp)
}

test_sec_005_allow_circuit_fits if not "SEC-005" in t.denies(t.paid)

test_sec_006_deny_too_deep if "SEC-006" in t.denies(object.union(t.local, {"circuit": object.union(t.circuit, {"depth": 20000})}))

test_sec_006_allow_shallow if not "SEC-006" in t.denies(t.local)

test_sec_007_deny_paid_without_cost_centre if "SEC-007" in t.denies(t.paid_with([{"op": "replace", "path": "/metadata/labels", "value": {}}]))

test_sec_007_allow_local_without_labels if not "SEC-007" in t.denies(t.local_with([{"op": "replace", "path": "/metadata/labels", "value": {}}]))

test_sec_008_deny_unknown_device if "SEC-008" in t.denies(t.local_with([{"op": "replace", "path": "/spec/backend/device", "value": "qc_pegasus_1"}]))

test_sec_008_deny_vendor_mismatch if "SEC-008" in t.denies(t.paid_with([{"op": "replace", "path": "/spec/backend/vendor", "value": "ionq"}]))

test_sec_008_deny_unknown_fallback_device if "SEC-008" in t.denies(t.paid_with([{"op": "add", "path": "/spec/fallback", "value": {"device": "qc_pegasus_1", "on": ["unavailable"]}}]))

test_sec_008_allow_catalogued_backend_and_fallback if not "SEC-008" in t.denies(t.paid_with([{"op": "add", "path": "/spec/fallback", "value": {"device": "aer_simulator", "on": ["unavailable"]}}]))

test_sec_101_deny_large_shot_count if "SEC-101" in t.warns(t.local_with([{"op": "replace", "path": "/spec/shots", "value": 60000}]))

test_sec_101_allow_normal_shot_count if not "SEC-101" in t.warns(t.local)
