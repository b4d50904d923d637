# The decision (entrypoint govern/decision): every area's findings, enriched from the rule catalogue,
# with waivers applied. Shape: see policies/README.md.
package govern

import rego.v1

import data.govern.data_classification
import data.govern.lib
import data.govern.procurement
import data.govern.security

decision := decide(input)

decide(inp) := {
	"allow": count(denied) == 0,
	"deny": denied,
	"warn": [enrich(w) | some w in warnings(inp, f)],
	"waived": waived,
	"estimate": f.estimate,
} if {
	f := lib.facts(inp)
	findings := [enrich(v) | some v in violations(inp, f)]
	waived := [object.union(finding, {"waiver": summary(waiver_for(finding, inp))}) | some finding in findings; waiver_for(finding, inp)]
	denied := [finding | some finding in findings; not waiver_for(finding, inp)]
}

violations(inp, f) := (data_classification.violations(inp, f) | procurement.violations(inp, f)) | security.violations(inp, f)

warnings(inp, f) := (data_classification.warnings(inp, f) | procurement.warnings(inp, f)) | security.warnings(inp, f)

# A rule missing from the catalogue is critical and not waivable, so a typo never makes a deny waivable.
catalogue_entry(rule) := object.get(data.govern.catalogue, rule, {"area": "unknown", "severity": "critical", "remediation": "Add the rule to the rule catalogue.", "waivable": false})

enrich(finding) := {
	"rule": finding.rule,
	"message": finding.message,
	"resource": object.get(finding, "resource", ""),
	"evidence": object.get(finding, "evidence", {}),
	"area": entry.area,
	"severity": entry.severity,
	"remediation": entry.remediation,
	"waivable": entry.waivable == true,
} if {
	entry := catalogue_entry(finding.rule)
}

# A waiver applies to a waivable finding when it is approved, unexpired, approved by someone other
# than its requester, names the rule, and its scope matches the team, the experiment (exact or "*")
# and, when it names one, the sandbox (exact or "*"). The first such waiver by id is recorded.
waiver_for(finding, inp) := sort_by_id([w | some w in inp.context.waivers; applies(w, finding, inp)])[0]

sort_by_id(waivers) := [w | some id in sort({w.id | some w in waivers}); some w in waivers; w.id == id]

applies(w, finding, inp) if {
	finding.waivable
	w.rule == finding.rule
	w.status == "approved"
	inp.now_ns < w.expiresNs
	object.get(w, "requestedBy", "") != w.approver
	w.scope.team == inp.experiment.metadata.team
	object.get(w.scope, "experiment", "*") in {"*", inp.experiment.metadata.name}
	object.get(w.scope, "sandbox", "*") in {"*", object.get(inp.experiment.spec, "sandbox", "")}
}

summary(w) := {"id": w.id, "approver": w.approver, "reason": w.reason, "expiresNs": w.expiresNs}
