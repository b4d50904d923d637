# Data classification: which backend classes may receive which level of data.
# Rules are functions of the policy input and the facts lib.facts worked out from it (see lib.rego).
package govern.data_classification

import rego.v1

import data.govern.lib

violations(inp, f) := ((dc_001(inp, f) | dc_002(inp, f)) | dc_003(inp, f)) | dc_004(inp, f)

warnings(_, _) := set()

dataset_label(d) := sprintf("%s/%s", [d.namespace, d.name])

target(f) := sprintf("device '%s' (vendor '%s', %s)", [f.device, f.vendor, f["class"]])

# DC-001: restricted data never leaves local or on-prem backends (not waivable), neither on the
# requested backend nor on the fallback device.
dc_001(inp, f) := {v |
	lib.leaves_premises(f)
	some i
	d := inp.experiment.spec.datasets[i]
	lib.level(d.classification) >= lib.levels.restricted
	v := {
		"rule": "DC-001",
		"message": sprintf("dataset %s is %s and may only run on a local simulator or on-prem backend, not on %s", [dataset_label(d), d.classification, target(f)]),
		"resource": sprintf("spec.datasets[%d]", [i]),
		"evidence": {"dataset": dataset_label(d), "classification": d.classification, "backendClass": f["class"]},
	}
} | {v |
	fallback := inp.experiment.spec.fallback.device
	fallback_class := object.get(object.get(data.govern.backends, fallback, {}), "class", "unknown")
	not fallback_class in {"local_simulator", "onprem"}
	some i
	d := inp.experiment.spec.datasets[i]
	lib.level(d.classification) >= lib.levels.restricted
	v := {
		"rule": "DC-001",
		"message": sprintf("dataset %s is %s, so the fallback device '%s' (%s) may not receive it; fall back to a local simulator or on-prem backend", [dataset_label(d), d.classification, fallback, fallback_class]),
		"resource": "spec.fallback.device",
		"evidence": {"dataset": dataset_label(d), "classification": d.classification, "fallbackClass": fallback_class},
	}
}

# DC-002: confidential data goes to an external vendor only with a data-processing agreement and a
# sandbox cleared for confidential data.
dc_002(inp, f) := {v |
	lib.leaves_premises(f)
	some i
	d := inp.experiment.spec.datasets[i]
	d.classification == "confidential"
	missing := confidential_gap(f)
	v := {
		"rule": "DC-002",
		"message": sprintf("dataset %s is confidential and goes to %s, but %s", [dataset_label(d), target(f), missing]),
		"resource": sprintf("spec.datasets[%d]", [i]),
		"evidence": {"dataset": dataset_label(d), "vendor": f.vendor, "sandbox": f.sandboxId},
	}
}

# What is missing for confidential data. One message per case: rego-cpp's concat() quotes strings
# that sprintf built, so messages are not assembled from parts.
confidential_gap(f) := sprintf("vendor '%s' has no data-processing agreement on record and sandbox '%s' is not cleared for confidential data", [f.vendor, f.sandboxId]) if {
	not has_dpa(f)
	not cleared_sandbox(f)
} else := sprintf("vendor '%s' has no data-processing agreement on record", [f.vendor]) if {
	not has_dpa(f)
} else := sprintf("sandbox '%s' is not cleared for confidential data", [f.sandboxId]) if {
	not cleared_sandbox(f)
}

has_dpa(f) if f.vendorRecord.dataProcessingAgreement == true

cleared_sandbox(f) if f.sandbox.allowsConfidential == true

# DC-003: personal data is pseudonymized before it leaves the local simulator.
dc_003(inp, f) := {v |
	f["class"] != "local_simulator"
	some i
	d := inp.experiment.spec.datasets[i]
	d.containsPII == true
	not d.pseudonymized == true
	v := {
		"rule": "DC-003",
		"message": sprintf("dataset %s contains personal data that is not pseudonymized, and goes to %s", [dataset_label(d), target(f)]),
		"resource": sprintf("spec.datasets[%d]", [i]),
		"evidence": {"dataset": dataset_label(d), "containsPII": true, "pseudonymized": false},
	}
}

# DC-004: a non-public dataset stays in its jurisdiction on external backends. Confidential or
# restricted data without a region has unknown residency and fails; internal data without one passes.
dc_004(inp, f) := {v |
	lib.leaves_premises(f)
	some i
	d := inp.experiment.spec.datasets[i]
	lib.level(d.classification) >= lib.levels.internal
	problem := residency_problem(d, f)
	v := {
		"rule": "DC-004",
		"message": sprintf("dataset %s %s, but %s runs in region '%s' (jurisdiction '%s')", [dataset_label(d), problem, target(f), f.region, f.jurisdiction]),
		"resource": sprintf("spec.datasets[%d]", [i]),
		"evidence": {"dataset": dataset_label(d), "datasetRegion": object.get(d, "region", ""), "backendRegion": f.region},
	}
}

residency_problem(d, f) := "has no region, so its residency is unknown" if {
	not d.region
	lib.level(d.classification) >= lib.levels.confidential
} else := sprintf("is in region '%s', which is not in the region table, so its residency is unknown", [d.region]) if {
	lib.jurisdiction(d.region) == "unknown"
} else := sprintf("must stay in jurisdiction '%s' (region '%s')", [lib.jurisdiction(d.region), d.region]) if {
	lib.jurisdiction(d.region) != f.jurisdiction
}
