# METADATA
# scope: package
# title: The decision
# description: >-
#   Every area's findings, enriched from the rule catalogue (data.govern.catalogue, which govern builds from
#   the rules' METADATA annotations), with waivers applied. Shape: see policies/README.md.
package govern

import data.govern.data_classification
import data.govern.lib
import data.govern.procurement
import data.govern.security

# METADATA
# title: Decision
# description: Whether the submission may go ahead, the findings for and against it, and its cost estimate.
# entrypoint: true
decision := {
	"allow": count(denied) == 0,
	"deny": denied,
	"warn": [finding | some finding in warns],
	"waived": waived,
	"estimate": lib.estimate,
}

denied := [finding | some finding in denies; not finding in waived_findings]

waived := [object.union(finding, {"waiver": waiver_for[finding.rule]}) | some finding in waived_findings]

# Every deny and warn of the areas, enriched.
denies contains enrich(finding, unknown_rule) if {
	some finding in builtin_denies
}

warns contains enrich(finding, unknown_rule) if {
	some finding in builtin_warns
}

# An area joins here once; its rules then join by themselves. Data classification has no warn rules.
builtin_denies := (data_classification.deny | procurement.deny) | security.deny

builtin_warns := procurement.warn | security.warn

default rule_catalogue := {}

rule_catalogue := data.govern.catalogue

# A rule missing from the catalogue is critical and not waivable, so a typo never makes a deny waivable.
unknown_rule := {
	"area": "unknown",
	"severity": "critical",
	"remediation": "Add the rule to the rule catalogue.",
	"waivable": false,
}

# A finding in the decision's shape, with what the catalogue (else the fallback) says about its rule.
enrich(finding, fallback) := {
	"rule": finding.rule,
	"message": finding.message,
	"resource": object.get(finding, "resource", ""),
	"evidence": object.get(finding, "evidence", {}),
	"area": object.get(entry, "area", fallback.area),
	"severity": object.get(entry, "severity", fallback.severity),
	"remediation": object.get(entry, "remediation", fallback.remediation),
	"waivable": object.get(entry, "waivable", fallback.waivable) == true,
} if {
	entry := object.get(rule_catalogue, finding.rule, fallback)
}

# Waivers in force for this submission: approved, unexpired, approved by someone other than their
# requester, scoped to the experiment's team, to the experiment (exact or "*") and, when they name one,
# to its sandbox (exact or "*").
waivers_in_force contains waiver if {
	some waiver in input.context.waivers
	waiver.status == "approved"
	input.now_ns < waiver.expiresNs
	object.get(waiver, "requestedBy", "") != waiver.approver
	waiver.scope.team == input.experiment.metadata.team
	object.get(waiver.scope, "experiment", "*") in {"*", input.experiment.metadata.name}
	object.get(waiver.scope, "sandbox", "*") in {"*", lib.sandbox_id}
}

# The waiver recorded for each rule that has one in force: the first by id.
waiver_for[rule] := summary if {
	some rule in {waiver.rule | some waiver in waivers_in_force}
	ids := sort({waiver.id | some waiver in waivers_in_force; waiver.rule == rule})
	first := [waiver | some waiver in waivers_in_force; waiver.rule == rule; waiver.id == ids[0]][0]
	summary := {"id": first.id, "approver": first.approver, "reason": first.reason, "expiresNs": first.expiresNs}
}

# A finding is waived when its rule is waivable and a waiver for the rule is in force.
waived_findings contains finding if {
	some finding in denies
	finding.waivable
	waiver_for[finding.rule]
}
