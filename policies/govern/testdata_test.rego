# Shared fixtures for the policy tests: a clean paid submission (IBM, active sandbox), a clean local
# one, and helpers that build variants with json.patch. Tests call govern.decide(inp) directly: no
# `with input as`, which rego-cpp compiles slowly and, for whole inputs, crashes on.
package govern.testdata_test

import rego.v1

import data.govern

now := 1795867200000000000 # 2026-11-28T12:00:00Z

day := 86400000000000

circuit := {"format": "qasm3", "qubits": 4, "clbits": 4, "size": 20, "depth": 9, "twoQubitDepth": 6, "nonLocalGates": 6, "ops": {"ry": 8, "cx": 6, "measure": 4}, "sha256": "0000"}

paid_experiment := {
	"apiVersion": "govern/v1",
	"kind": "Experiment",
	"metadata": {"name": "vqe-h2-sweep", "team": "materials-rnd", "owner": "alice@example.com", "labels": {"costCenter": "CC-1042"}},
	"spec": {
		"purpose": "H2 binding energy",
		"circuit": {"path": "circuits/vqe_h2.qasm"},
		"backend": {"vendor": "ibm", "device": "ibm_brisbane", "region": "us-east"},
		"shots": 4000,
		"sandbox": "SBX-1",
		"datasets": [{"namespace": "s3://rnd-data", "name": "molecules/h2", "classification": "internal", "containsPII": false, "pseudonymized": false, "region": "us-east"}],
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
		"aws-braket": {"name": "aws-braket", "approved": true, "dataProcessingAgreement": false, "regions": ["us-east-1"]},
	},
	"sandboxes": {"SBX-1": sandbox},
	"waivers": [],
}

# A policy input around an experiment and a context.
submission(experiment, ctx) := {"experiment": experiment, "circuit": circuit, "context": ctx, "now_ns": now, "secrets": []}

paid := submission(paid_experiment, context)

local := submission(local_experiment, context)

# The paid submission with JSON patches applied to its experiment / to its sandbox.
paid_with(patches) := submission(json.patch(paid_experiment, patches), context)

paid_with_sandbox(patches) := submission(paid_experiment, json.patch(context, [{"op": "replace", "path": "/sandboxes/SBX-1", "value": json.patch(sandbox, patches)}]))

local_with(patches) := submission(json.patch(local_experiment, patches), context)

dataset(fields) := object.union(paid_experiment.spec.datasets[0], fields)

with_dataset(base, fields) := json.patch(base, [{"op": "replace", "path": "/spec/datasets/0", "value": dataset(fields)}])

denies(inp) := {f.rule | some f in govern.decide(inp).deny}

warns(inp) := {f.rule | some f in govern.decide(inp).warn}

waived(inp) := {f.rule | some f in govern.decide(inp).waived}
