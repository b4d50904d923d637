# Shared fixtures for the policy tests: a clean paid submission (IBM, active sandbox), a clean local one,
# and JSON patch operations that build variants of them, for `with input as`.
package govern.testdata_test

now := 1795867200000000000 # 2026-11-28T12:00:00Z

day := 86400000000000

circuit := {
	"format": "qasm3", "qubits": 4, "clbits": 4, "size": 20, "depth": 9, "twoQubitDepth": 6, "nonLocalGates": 6,
	"ops": {"ry": 8, "cx": 6, "measure": 4}, "sha256": "0000",
}

paid_experiment := {
	"apiVersion": "govern/v1",
	"kind": "Experiment",
	"metadata": {
		"name": "vqe-h2-sweep", "team": "materials-rnd", "owner": "alice@example.com",
		"labels": {"costCenter": "CC-1042"},
	},
	"spec": {
		"purpose": "H2 binding energy",
		"circuit": {"path": "circuits/vqe_h2.qasm"},
		"backend": {"vendor": "ibm", "device": "ibm_brisbane", "region": "us-east"},
		"shots": 4000,
		"sandbox": "SBX-1",
		"datasets": [{
			"namespace": "s3://rnd-data", "name": "molecules/h2", "classification": "internal",
			"containsPII": false, "pseudonymized": false, "region": "us-east",
		}],
		"hyperparameters": {"seed": 7},
		"credentials": {"token": "env:IBM_QUANTUM_TOKEN"},
	},
}

local_experiment := json.patch(paid_experiment, [
	{"op": "replace", "path": "/spec/backend", "value": {"vendor": "local", "device": "aer_simulator"}},
	{"op": "remove", "path": "/spec/sandbox"},
	{"op": "remove", "path": "/spec/credentials"},
])

sandbox := {
	"id": "SBX-1", "team": "materials-rnd", "vendor": "ibm", "devices": ["ibm_brisbane", "ibm_torino"],
	"status": "active", "requestedBy": "alice@example.com", "approvedBy": "proc@example.com",
	"startNs": now - (30 * day), "endNs": now + (40 * day), "budget": 10000, "spent": 1000,
	"currency": "USD", "allowsConfidential": true,
}

context := {
	"vendors": {
		"ibm": {"name": "ibm", "approved": true, "dataProcessingAgreement": true, "regions": ["us-east"]},
		"aws-braket": {
			"name": "aws-braket", "approved": true, "dataProcessingAgreement": false,
			"regions": ["us-east-1"],
		},
	},
	"sandboxes": {"SBX-1": sandbox},
	"waivers": [],
}

# The policy inputs of the paid and the local submission.
paid := {"experiment": paid_experiment, "circuit": circuit, "context": context, "now_ns": now, "secrets": []}

local := json.patch(paid, [put("/experiment", local_experiment)])

# JSON patch operations on a policy input.
put(path, value) := {"op": "replace", "path": path, "value": value}

add(path, value) := {"op": "add", "path": path, "value": value}

drop(path) := {"op": "remove", "path": path}

# The paid or local submission whose first dataset has these fields.
paid_dataset(fields) := json.patch(paid, [put("/experiment/spec/datasets/0", object.union(first_dataset, fields))])

local_dataset(fields) := json.patch(local, [put("/experiment/spec/datasets/0", object.union(first_dataset, fields))])

first_dataset := paid_experiment.spec.datasets[0]

# The rule ids of a set of findings.
rules(findings) := {finding.rule | some finding in findings}

# A rule catalogue for the tests that depend on one (waivers, enrichment): govern mounts the catalogue
# it builds from the annotations, `opa test` mounts none.
catalogue := {
	"DC-001": {
		"area": "data_classification", "kind": "deny", "severity": "critical", "title": "t", "description": "d",
		"remediation": "Run on aer_simulator.", "waivable": false,
	},
	"DC-004": {
		"area": "data_classification", "kind": "deny", "severity": "high", "title": "t", "description": "d",
		"remediation": "Use a device in the dataset's jurisdiction.", "waivable": true,
	},
	"MAT-001": {
		"area": "materials_rnd", "kind": "deny", "severity": "medium", "title": "t", "description": "d",
		"remediation": "Book the GPU cluster.", "waivable": false,
	},
}

# An approved waiver of DC-004 for the paid submission, in force until a day after `now`.
waiver := {
	"id": "W-1", "rule": "DC-004", "scope": {"team": "materials-rnd", "experiment": "vqe-h2-sweep"},
	"status": "approved", "requestedBy": "alice@example.com", "approver": "compliance@example.com",
	"reason": "DPO sign-off", "expiresNs": now + day,
}

# EU data on a US device: DC-004 fires (and is waivable).
eu_data := paid_dataset({"region": "eu-de"})

# The EU-data submission with these waivers in its context.
eu_data_waived(waivers) := json.patch(eu_data, [put("/context/waivers", waivers)])
