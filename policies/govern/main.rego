# METADATA
# scope: package
# title: The decision
# description: >-
#   Every area's findings and the findings of the team policies under govern.custom, enriched from the rule
#   catalogue (data.govern.catalogue, which govern builds from the rules' METADATA annotations), with
#   waivers applied. Shape: see policies/README.md.
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

# Every deny and warn, enriched: ours (the areas' and GOV-FINDING) and the team policies'.
denies contains enriched if {
	some finding in builtin_denies
	enriched := enrich(finding, unknown_rule)
}

denies contains enriched if {
	some finding in team_findings.deny
	enriched := enrich(finding, team_rule)
}

warns contains enriched if {
	some finding in builtin_warns
	enriched := enrich(finding, unknown_rule)
}

warns contains enriched if {
	some finding in team_findings.warn
	enriched := enrich(finding, team_rule)
}

# An area joins here once; its rules then join by themselves. Data classification has no warn rules.
builtin_denies := ((data_classification.deny | procurement.deny) | security.deny) | deny

builtin_warns := procurement.warn | security.warn

default rule_catalogue := {}

rule_catalogue := data.govern.catalogue

# A rule of ours missing from the catalogue is critical and not waivable, so a typo never makes a deny
# waivable; a team rule without an annotation is high and waivable, as the README promises teams.
unknown_rule := {
	"area": "unknown",
	"severity": "critical",
	"remediation": "Add the rule to the rule catalogue.",
	"waivable": false,
}

team_rule := {
	"area": "custom",
	"severity": "high",
	"remediation": "See the team policy that reported it.",
	"waivable": true,
}

# A finding in the decision's shape, with what the catalogue (else the fallback) says about its rule.
# Total over objects, so that a finding of ours that lacks a rule or a message still denies, as a rule
# missing from the catalogue (team findings are checked before: see readable).
enrich(finding, fallback) := {
	"rule": rule,
	"message": object.get(finding, "message", "a rule reported a finding without a message"),
	"resource": object.get(finding, "resource", ""),
	"evidence": object.get(finding, "evidence", {}),
	"area": object.get(entry, "area", fallback.area),
	"severity": object.get(entry, "severity", fallback.severity),
	"remediation": object.get(entry, "remediation", fallback.remediation),
	"waivable": object.get(entry, "waivable", fallback.waivable) == true,
} if {
	rule := object.get(finding, "rule", "unknown")
	entry := object.get(rule_catalogue, rule, fallback)
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

# The findings of the team policies: the deny and warn rules of every package under govern.custom, with
# the package's path under govern.custom. A value there that is not a set or an array counts as a finding
# itself, so nothing a team rule reports ever vanishes.
team_reports contains {"path": path, "kind": kind, "finding": finding} if {
	walk(data.govern.custom, [path, document])
	every segment in path {
		is_string(segment)
	}
	is_object(document)
	some kind in ["deny", "warn"]
	some finding in reported(document[kind])
}

reported(value) := value if is_set(value)

reported(value) := value if is_array(value)

reported(value) := [value] if {
	not is_set(value)
	not is_array(value)
}

# A team finding is a message string, whose rule is named after its package (the package path under
# govern.custom), or an object with a string rule and message and, optionally, a string resource and an
# object evidence.
team_findings[kind] contains finding if {
	some report in team_reports
	is_string(report.finding)
	kind := report.kind
	finding := {"rule": team_rule_id(report.path), "message": report.finding}
}

team_findings[kind] contains finding if {
	some report in team_reports
	readable(report.finding)
	kind := report.kind
	finding := report.finding
}

team_rule_id(path) := concat(".", path) if count(path) > 0

team_rule_id(path) := "custom" if count(path) == 0

readable(finding) if {
	is_object(finding)
	is_string(finding.rule)
	finding.rule != ""
	is_string(finding.message)
	is_string(object.get(finding, "resource", ""))
	is_object(object.get(finding, "evidence", {}))
}

# METADATA
# title: Team findings are readable
# description: >-
#   A team policy under govern.custom reports each finding as a message string or as an object with a string rule and
#   message (and, optionally, a string resource and an object evidence). Anything else cannot be shown, enriched or
#   waived, so it is not dropped: it becomes this deny, which names the package and the kind of value.
# custom:
#   id: GOV-FINDING
#   severity: critical
#   waivable: false
#   remediation: Return message strings or objects with rule and message from the team policy's deny and warn rules.
deny contains finding if {
	some report in team_reports
	not is_string(report.finding)
	not readable(report.finding)
	package_name := concat(".", array.concat(["govern", "custom"], report.path))
	finding := {
		"rule": "GOV-FINDING",
		"message": sprintf(
			"team policy %s reported a %s finding govern cannot read (%s): %s; the submission is denied",
			[package_name, report.kind, type_name(report.finding), readable_shape],
		),
		"resource": "",
		"evidence": {"package": package_name, "kind": report.kind, "type": type_name(report.finding)},
	}
}

readable_shape := "a finding is a message string or an object with a string rule and message"
