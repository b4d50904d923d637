# Rules are functions of the policy input and the facts lib.facts worked out from it (see lib.rego).
# Security defaults: no secrets in manifests, credentials only by reference, TLS to remote
# endpoints, sane resource limits, cost attribution, and only catalogued backends (fail closed).
package govern.security

import rego.v1

import data.govern.lib

limits := data.govern.limits

violations(inp, f) := ((((((sec_001(inp) | sec_002(inp)) | sec_003(inp)) | sec_004(inp)) | sec_005(inp, f)) | sec_006(inp)) | sec_007(inp, f)) | sec_008(inp, f)

warnings(inp, _) := sec_101(inp)

# SEC-001: secret values anywhere in the manifest (not waivable). govern's scanner finds them before
# evaluation and redacts them from the input (`input.secrets`), so the value never reaches the engine,
# the decision or its log; the policy decides what a finding means.
sec_001(inp) := {v |
	some secret in object.get(inp, "secrets", [])
	v := {
		"rule": "SEC-001",
		"message": sprintf("%s holds %s; remove it from the manifest, rotate it, and reference it as env:NAME or vault:path", [secret.field, secret.label]),
		"resource": secret.field,
		"evidence": {"field": secret.field, "kind": secret.kind},
	}
}

# SEC-002: credentials are env:NAME or vault:path references (not waivable).
sec_002(inp) := {v |
	credentials := object.get(inp.experiment.spec, "credentials", {})
	some name
	value := credentials[name]
	not lib.reference(value)
	field := sprintf("spec.credentials.%s", [name])
	v := {
		"rule": "SEC-002",
		"message": sprintf("credential '%s' is not a reference; credentials must look like env:IBM_QUANTUM_TOKEN or vault:secret/quantum/ibm#token", [name]),
		"resource": field,
		"evidence": {"field": field},
	}
}

# SEC-003: remote endpoints use https (the backend endpoint and the source repository URL; the
# manifest schema has no other URL fields).
sec_003(inp) := {v |
	found := endpoints(inp.experiment.spec)
	some field
	url := found[field]
	not secure_url(url)
	scheme := scheme_of(url)
	v := {
		"rule": "SEC-003",
		"message": sprintf("%s uses '%s'; remote endpoints must use https:// (or ssh for a git source)", [field, scheme]),
		"resource": field,
		"evidence": {"field": field, "scheme": scheme},
	}
}

endpoints(spec) := {
	"spec.backend.endpoint": object.get(spec.backend, "endpoint", "https://"),
	"spec.source.url": object.get(object.get(spec, "source", {}), "url", "https://"),
}

secure_url(url) if startswith(lower(url), "https://")

secure_url(url) if startswith(lower(url), "ssh://")

secure_url(url) if startswith(url, "git@")

scheme_of(url) := split(url, "://")[0] if contains(url, "://")

else := "no scheme"

# SEC-004: shots within the limit.
sec_004(inp) := {v |
	inp.experiment.spec.shots > limits.maxShots
	v := {
		"rule": "SEC-004",
		"message": sprintf("%d shots is over the limit of %d; split the run", [inp.experiment.spec.shots, limits.maxShots]),
		"resource": "spec.shots",
		"evidence": {"shots": inp.experiment.spec.shots, "maxShots": limits.maxShots},
	}
}

# SEC-005: the circuit fits the device and the global qubit limit (not waivable).
sec_005(inp, f) := {v |
	some capacity_and_what in qubit_capacities(f)
	[capacity, what] := capacity_and_what
	inp.circuit.qubits > capacity
	v := {
		"rule": "SEC-005",
		"message": sprintf("the circuit uses %d qubits, more than %s (%d)", [inp.circuit.qubits, what, capacity]),
		"resource": "spec.circuit",
		"evidence": {"qubits": inp.circuit.qubits, "capacity": capacity},
	}
}

qubit_capacities(f) := [[limits.maxQubits, "the qubit limit"], [f.backend.qubits, sprintf("device '%s' has", [f.device])]] if {
	f.backend != null
} else := [[limits.maxQubits, "the qubit limit"]]

# SEC-006: circuit depth within the limit.
sec_006(inp) := {v |
	inp.circuit.depth > limits.maxDepth
	v := {
		"rule": "SEC-006",
		"message": sprintf("the circuit depth %d is over the limit of %d", [inp.circuit.depth, limits.maxDepth]),
		"resource": "spec.circuit",
		"evidence": {"depth": inp.circuit.depth, "maxDepth": limits.maxDepth},
	}
}

# SEC-007: paid backends carry the cost-attribution labels.
sec_007(inp, f) := {v |
	f.paid
	some label in limits.requiredPaidLabels
	not object.get(inp.experiment.metadata.labels, label, false)
	v := {
		"rule": "SEC-007",
		"message": sprintf("paid backend '%s' needs the label '%s' for cost attribution", [f.device, label]),
		"resource": "metadata.labels",
		"evidence": {"label": label},
	}
}

# SEC-008: only catalogued backends, with the vendor the catalogue names (fail closed, not waivable).
sec_008(inp, f) := {v |
	f.backend == null
	v := {
		"rule": "SEC-008",
		"message": sprintf("device '%s' of vendor '%s' is not in the backend catalogue, so it cannot be checked and is denied; use a catalogued device or ask the platform team to add it", [f.device, f.vendor]),
		"resource": "spec.backend",
		"evidence": {"device": f.device, "vendor": f.vendor},
	}
} | {v |
	fallback := inp.experiment.spec.fallback
	object.get(data.govern.backends, fallback.device, null) == null
	v := {
		"rule": "SEC-008",
		"message": sprintf("fallback device '%s' is not in the backend catalogue, so the fallback could never be dispatched; use a catalogued device such as aer_simulator", [fallback.device]),
		"resource": "spec.fallback.device",
		"evidence": {"device": fallback.device},
	}
}

# SEC-101 (warn): a very large shot count.
sec_101(inp) := {v |
	inp.experiment.spec.shots > limits.warnShots
	inp.experiment.spec.shots <= limits.maxShots
	v := {
		"rule": "SEC-101",
		"message": sprintf("%d shots is a large run (warning above %d); check that the precision needs it", [inp.experiment.spec.shots, limits.warnShots]),
		"resource": "spec.shots",
		"evidence": {"shots": inp.experiment.spec.shots},
	}
}
