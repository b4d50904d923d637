# METADATA
# scope: package
# title: Security
# description: >-
#   Security defaults: no secrets in manifests, credentials only by reference, TLS to remote endpoints,
#   sane resource limits, cost attribution, and only catalogued backends (fail closed).
package govern.security

import data.govern.lib

limits := data.govern.limits

# METADATA
# title: No secrets in the manifest
# description: >-
#   No string anywhere in the experiment (keys included) or in the circuit's comments and strings may hold a secret:
#   JWTs, IBM Cloud and IBM Quantum keys, AWS access and secret keys, GitHub, GitLab, Azure, GCP, Slack, PyPI and
#   other tokens, PEM private keys, URLs and connection strings with a password, a long random-looking token, or a
#   token-like literal in a credential-like field (key ending in token, secret, password, key, credential, ...; or
#   any field under spec.credentials) that is not an env:/vault: reference. govern's scanner finds them before
#   evaluation and redacts them, so findings name the field (line:col in a circuit) and the kind, never the value.
# custom:
#   id: SEC-001
#   severity: critical
#   waivable: false
#   remediation: Remove the secret from the manifest, rotate it, and reference it as env:NAME or vault:path.
deny contains finding if {
	some secret in object.get(input, "secrets", [])
	finding := {
		"rule": "SEC-001",
		"message": sprintf(
			"%s holds %s; remove it from the manifest, rotate it, and reference it as env:NAME or vault:path",
			[secret.field, secret.label],
		),
		"resource": secret.field,
		"evidence": {"field": secret.field, "kind": secret.kind},
	}
}

# METADATA
# title: Credentials are references
# description: Every value of spec.credentials must be an env:NAME or vault:path[#field] reference.
# custom:
#   id: SEC-002
#   severity: high
#   waivable: false
#   remediation: Replace the value with env:NAME (an environment variable) or vault:path (a Vault secret).
deny contains finding if {
	some name, _ in object.get(lib.spec, "credentials", {})
	not name in references
	field := sprintf("spec.credentials.%s", [name])
	finding := {
		"rule": "SEC-002",
		"message": sprintf(
			"credential '%s' is not a reference; credentials must look like %s",
			[name, "env:IBM_QUANTUM_TOKEN or vault:secret/quantum/ibm#token"],
		),
		"resource": field,
		"evidence": {"field": field},
	}
}

# The credentials given as env:NAME or vault:path, one token with no spaces.
references contains name if {
	some name, value in lib.spec.credentials
	some prefix in ["env:", "vault:"]
	startswith(value, prefix)
	count(value) > count(prefix)
	not contains(value, " ")
}

# METADATA
# title: Remote endpoints use TLS
# description: >-
#   spec.backend.endpoint and spec.source.url (the manifest's only URL fields) must use https://; a git source may also
#   use ssh:// or git@host:path.
# custom:
#   id: SEC-003
#   severity: high
#   waivable: true
#   remediation: Use the https:// endpoint of the service.
deny contains finding if {
	some field, url in urls
	not field in secure_urls
	scheme := object.get(schemes, field, "no scheme")
	finding := {
		"rule": "SEC-003",
		"message": sprintf(
			"%s uses '%s'; remote endpoints must use https:// (or ssh for a git source)",
			[field, scheme],
		),
		"resource": field,
		"evidence": {"field": field, "scheme": scheme},
	}
}

# The manifest's URL fields that are set: the backend endpoint and the source repository.
urls[field] := url if {
	some field, path in {"spec.backend.endpoint": ["backend", "endpoint"], "spec.source.url": ["source", "url"]}
	url := object.get(lib.spec, path, null)
	is_string(url)
}

secure_urls contains field if {
	some field, url in urls
	some prefix in ["https://", "ssh://"]
	startswith(lower(url), prefix)
}

secure_urls contains field if {
	some field, url in urls
	startswith(url, "git@")
}

schemes[field] := scheme if {
	some field, url in urls
	contains(url, "://")
	scheme := split(url, "://")[0]
}

# METADATA
# title: Shot limit
# description: spec.shots may not exceed limits.maxShots.
# custom:
#   id: SEC-004
#   severity: medium
#   waivable: true
#   remediation: Reduce spec.shots, or split the run into several submissions.
deny contains finding if {
	lib.spec.shots > limits.maxShots
	finding := {
		"rule": "SEC-004",
		"message": sprintf("%d shots is over the limit of %d; split the run", [lib.spec.shots, limits.maxShots]),
		"resource": "spec.shots",
		"evidence": {"shots": lib.spec.shots, "maxShots": limits.maxShots},
	}
}

# METADATA
# title: The circuit fits the device
# description: The circuit's qubit count may not exceed the device's qubits (backend catalogue) nor limits.maxQubits.
# custom:
#   id: SEC-005
#   severity: high
#   waivable: false
#   remediation: Pick a device with enough qubits or reduce the circuit.
deny contains finding if {
	some capacity in qubit_capacities
	input.circuit.qubits > capacity.qubits
	finding := {
		"rule": "SEC-005",
		"message": sprintf(
			"the circuit uses %d qubits, more than %s (%d)",
			[input.circuit.qubits, capacity.what, capacity.qubits],
		),
		"resource": "spec.circuit",
		"evidence": {"qubits": input.circuit.qubits, "capacity": capacity.qubits},
	}
}

# The qubit limits a circuit must fit: the global limit and, for a catalogued backend, the device's.
qubit_capacities contains capacity if {
	capacity := {"qubits": limits.maxQubits, "what": "the qubit limit"}
}

qubit_capacities contains capacity if {
	capacity := {"qubits": lib.backend.qubits, "what": sprintf("device '%s' has", [lib.device])}
}

# METADATA
# title: Circuit depth limit
# description: The circuit depth may not exceed limits.maxDepth.
# custom:
#   id: SEC-006
#   severity: medium
#   waivable: true
#   remediation: Transpile with a higher optimization level or split the circuit.
deny contains finding if {
	input.circuit.depth > limits.maxDepth
	finding := {
		"rule": "SEC-006",
		"message": sprintf("the circuit depth %d is over the limit of %d", [input.circuit.depth, limits.maxDepth]),
		"resource": "spec.circuit",
		"evidence": {"depth": input.circuit.depth, "maxDepth": limits.maxDepth},
	}
}

# METADATA
# title: Cost attribution labels on paid backends
# description: >-
#   A submission to a paid backend must carry every label in limits.requiredPaidLabels (costCenter) in metadata.labels.
# custom:
#   id: SEC-007
#   severity: medium
#   waivable: true
#   remediation: Add the missing labels (e.g. metadata.labels.costCenter) to the manifest.
deny contains finding if {
	lib.paid
	some label in limits.requiredPaidLabels
	not input.experiment.metadata.labels[label]
	finding := {
		"rule": "SEC-007",
		"message": sprintf("paid backend '%s' needs the label '%s' for cost attribution", [lib.device, label]),
		"resource": "metadata.labels",
		"evidence": {"label": label},
	}
}

# METADATA
# title: Only catalogued backends
# description: >-
#   The requested device must be in the backend catalogue (data.govern.backends) with the requested vendor, and a
#   fallback device must be catalogued too. Anything else is denied: it cannot be checked (fail closed).
# custom:
#   id: SEC-008
#   severity: critical
#   waivable: false
#   remediation: Use a catalogued device with its vendor, or ask the platform team to add the device to the catalogue.
deny contains finding if {
	some target in lib.targets
	not target.catalogued
	worded := {
		"backend": {
			"message": sprintf(uncatalogued_backend, [target.device, lib.vendor]),
			"evidence": {"device": target.device, "vendor": lib.vendor},
		},
		"fallback": {
			"message": sprintf(uncatalogued_fallback, [target.device]),
			"evidence": {"device": target.device},
		},
	}[target.role]
	finding := object.union({"rule": "SEC-008", "resource": target.resource}, worded)
}

uncatalogued_backend := concat(" ", [
	"device '%s' of vendor '%s' is not in the backend catalogue, so it cannot be checked and is denied;",
	"use a catalogued device or ask the platform team to add it",
])

uncatalogued_fallback := concat(" ", [
	"fallback device '%s' is not in the backend catalogue, so the fallback could never be dispatched;",
	"use a catalogued device such as aer_simulator",
])

# METADATA
# title: Baselines run on a local simulator
# description: >-
#   A simulator baseline (spec.baseline.simulator) must be a catalogued device of class local_simulator with the
#   circuit's qubits: it is the classical reference, it runs free beside the experiment, and the experiment's data
#   does not leave the premises for it.
# custom:
#   id: SEC-009
#   severity: high
#   waivable: false
#   remediation: Name a local simulator such as aer_simulator (or aer_simulator_mps for wide circuits) as the baseline.
deny contains finding if {
	some problem in baseline_problems
	finding := {
		"rule": "SEC-009",
		"message": problem.message,
		"resource": "spec.baseline.simulator",
		"evidence": problem.evidence,
	}
}

baseline_problems contains problem if {
	device := lib.spec.baseline.simulator
	class := object.get(data.govern.backends, [device, "class"], "unknown")
	class != "local_simulator"
	problem := {
		"message": sprintf(baseline_not_local, [device, class]),
		"evidence": {"device": device, "class": class},
	}
}

baseline_problems contains problem if {
	device := lib.spec.baseline.simulator
	qubits := data.govern.backends[device].qubits
	input.circuit.qubits > qubits
	problem := {
		"message": sprintf(baseline_too_small, [device, qubits, input.circuit.qubits]),
		"evidence": {"device": device, "qubits": qubits, "circuitQubits": input.circuit.qubits},
	}
}

baseline_not_local := concat(" ", [
	"baseline device '%s' is %s, not a catalogued local simulator;",
	"a baseline is the classical reference and runs on one, such as aer_simulator",
])

baseline_too_small := "baseline device '%s' has %d qubits, fewer than the circuit's %d; name a wider local simulator"

# METADATA
# title: High shot count
# description: Warns when spec.shots is above limits.warnShots (and within limits.maxShots).
# custom:
#   id: SEC-101
#   severity: low
#   waivable: false
#   remediation: Check that the shot count is intended.
warn contains finding if {
	lib.spec.shots > limits.warnShots
	lib.spec.shots <= limits.maxShots
	finding := {
		"rule": "SEC-101",
		"message": sprintf(
			"%d shots is a large run (warning above %d); check that the precision needs it",
			[lib.spec.shots, limits.warnShots],
		),
		"resource": "spec.shots",
		"evidence": {"shots": lib.spec.shots},
	}
}
