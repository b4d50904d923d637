# METADATA
# scope: package
# title: Data classification
# description: >-
#   Which backend classes may receive which level of data: restricted data stays on the premises,
#   confidential data leaves them only under a data-processing agreement and a cleared sandbox, personal
#   data is pseudonymized first, and non-public data stays in its jurisdiction.
package govern.data_classification

import data.govern.lib

# METADATA
# title: Restricted data stays on local or on-prem backends
# description: >-
#   A dataset classified restricted may only be used on a local_simulator or onprem backend. Checked for the requested
#   backend and the fallback device. Unknown backends count as external; a missing or unknown classification counts as
#   restricted.
# custom:
#   id: DC-001
#   severity: critical
#   waivable: false
#   remediation: Run the experiment on aer_simulator or an on-prem device, or use a dataset of a lower classification.
deny contains finding if {
	some target in lib.targets
	not target.class in lib.on_premises
	some i, level in lib.dataset_level
	level >= lib.levels.restricted
	label := lib.dataset_label[i]
	classification := lib.spec.datasets[i].classification
	worded := {
		"backend": {
			"message": sprintf(restricted_on_backend, [label, classification, lib.backend_description]),
			"resource": sprintf("spec.datasets[%d]", [i]),
			"evidence": {"dataset": label, "classification": classification, "backendClass": target.class},
		},
		"fallback": {
			"message": sprintf(restricted_on_fallback, [label, classification, target.device, target.class]),
			"resource": target.resource,
			"evidence": {"dataset": label, "classification": classification, "fallbackClass": target.class},
		},
	}[target.role]
	finding := object.union({"rule": "DC-001"}, worded)
}

restricted_on_backend := "dataset %s is %s and may only run on a local simulator or on-prem backend, not on %s"

restricted_on_fallback := concat(" ", [
	"dataset %s is %s, so the fallback device '%s' (%s) may not receive it;",
	"fall back to a local simulator or on-prem backend",
])

# METADATA
# title: Confidential data on external backends needs a DPA and a cleared sandbox
# description: >-
#   A confidential dataset may go to an external backend only if the vendor has a data-processing agreement in the
#   vendor register (context.vendors[].dataProcessingAgreement) and the sandbox named in spec.sandbox has
#   allowsConfidential: true.
# custom:
#   id: DC-002
#   severity: high
#   waivable: true
#   remediation: >-
#     Record a signed DPA for the vendor and use a sandbox approved for confidential data, or run on a local/on-prem
#     backend.
deny contains finding if {
	not lib.class in lib.on_premises
	some i, dataset in lib.spec.datasets
	dataset.classification == "confidential"
	label := lib.dataset_label[i]
	finding := {
		"rule": "DC-002",
		"message": sprintf(
			"dataset %s is confidential and goes to %s, but %s",
			[label, lib.backend_description, confidential_gap],
		),
		"resource": sprintf("spec.datasets[%d]", [i]),
		"evidence": {"dataset": label, "vendor": lib.vendor, "sandbox": lib.sandbox_id},
	}
}

has_dpa if lib.vendor_record.dataProcessingAgreement == true

cleared_sandbox if lib.sandbox.allowsConfidential == true

# What confidential data on an external backend lacks (DC-002).
confidential_gap := sprintf(concat(" ", [
	"vendor '%s' has no data-processing agreement on record and",
	"sandbox '%s' is not cleared for confidential data",
]), [lib.vendor, lib.sandbox_id]) if {
	not has_dpa
	not cleared_sandbox
}

confidential_gap := sprintf("vendor '%s' has no data-processing agreement on record", [lib.vendor]) if {
	not has_dpa
	cleared_sandbox
}

confidential_gap := sprintf("sandbox '%s' is not cleared for confidential data", [lib.sandbox_id]) if {
	has_dpa
	not cleared_sandbox
}

# METADATA
# title: Personal data is pseudonymized before it leaves the local simulator
# description: >-
#   A dataset with containsPII: true must have pseudonymized: true before it is used on any backend other than a local
#   simulator (on-prem hardware included).
# custom:
#   id: DC-003
#   severity: high
#   waivable: true
#   remediation: >-
#     Pseudonymize the dataset and mark it pseudonymized: true, or run on aer_simulator.
deny contains finding if {
	lib.class != "local_simulator"
	some i, dataset in lib.spec.datasets
	dataset.containsPII == true
	not dataset.pseudonymized == true
	label := lib.dataset_label[i]
	finding := {
		"rule": "DC-003",
		"message": sprintf(
			"dataset %s contains personal data that is not pseudonymized, and goes to %s",
			[label, lib.backend_description],
		),
		"resource": sprintf("spec.datasets[%d]", [i]),
		"evidence": {"dataset": label, "containsPII": true, "pseudonymized": false},
	}
}

# METADATA
# title: Data residency on external backends
# description: >-
#   A non-public dataset used on an external backend must stay in its jurisdiction: the jurisdiction of the dataset's
#   region must equal that of the backend region (spec.backend.region if given, otherwise the catalogue region), per
#   data.govern.regions. A region not in the region table counts as unknown and never matches. A confidential or
#   restricted dataset without a region fails the check (its residency is unknown); an internal dataset without a region
#   is allowed.
# custom:
#   id: DC-004
#   severity: high
#   waivable: true
#   remediation: Use a device or region in the dataset's jurisdiction, or declare the dataset's region if it is missing.
deny contains finding if {
	not lib.class in lib.on_premises
	some i, problem in residency_problem
	dataset := lib.spec.datasets[i]
	label := lib.dataset_label[i]
	finding := {
		"rule": "DC-004",
		"message": sprintf(
			"dataset %s %s, but %s runs in region '%s' (jurisdiction '%s')",
			[label, problem, lib.backend_description, lib.region, lib.jurisdiction],
		),
		"resource": sprintf("spec.datasets[%d]", [i]),
		"evidence": {"dataset": label, "datasetRegion": object.get(dataset, "region", ""), "backendRegion": lib.region},
	}
}

# Why a non-public dataset's residency fails on the backend, by dataset index (DC-004). Confidential or
# restricted data without a region has unknown residency; internal data without one passes.
residency_problem[i] := "has no region, so its residency is unknown" if {
	some i, dataset in lib.spec.datasets
	not dataset.region
	lib.dataset_level[i] >= lib.levels.confidential
}

residency_problem[i] := problem if {
	some i, dataset in lib.spec.datasets
	lib.dataset_level[i] >= lib.levels.internal
	dataset_jurisdiction[i] == "unknown"
	problem := sprintf(
		"is in region '%s', which is not in the region table, so its residency is unknown",
		[dataset.region],
	)
}

residency_problem[i] := problem if {
	some i, dataset in lib.spec.datasets
	lib.dataset_level[i] >= lib.levels.internal
	jurisdiction := dataset_jurisdiction[i]
	jurisdiction != "unknown"
	jurisdiction != lib.jurisdiction
	problem := sprintf("must stay in jurisdiction '%s' (region '%s')", [jurisdiction, dataset.region])
}

# Multi-value rules bind their values in the body: regorus mis-evaluates a head value that is undefined
# for one iteration (here: a dataset without a region), and `govern policy check` refuses it.
dataset_jurisdiction[i] := jurisdiction if {
	some i, dataset in lib.spec.datasets
	jurisdiction := object.get(data.govern.regions, dataset.region, "unknown")
}
