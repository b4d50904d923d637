# Procurement gates: paid backends run only on an approved sandbox of the team and vendor that
# covers the device, inside its time box, within budget and the per-submission cap.
# Rules are functions of the policy input and the facts lib.facts worked out from it (see lib.rego).
package govern.procurement

import rego.v1

import data.govern.lib

limits := data.govern.limits

violations(inp, f) := (((((pr_001(f) | pr_002(inp, f)) | pr_003(inp, f)) | pr_004(f)) | pr_005(f)) | pr_006(f)) | pr_007(f) if {
	f.paid
} else := set()

warnings(inp, f) := pr_101(inp, f) | pr_102(f) if {
	f.paid
	f.sandbox != null
} else := set()

finding(rule, message, evidence) := {"rule": rule, "message": message, "resource": "spec.sandbox", "evidence": evidence}

remaining(s) := s.budget - s.spent

# PR-001: a paid backend needs a sandbox (not waivable).
pr_001(f) := {{
	"rule": "PR-001",
	"message": sprintf("device '%s' (vendor '%s') is billed, but the experiment names no sandbox; set spec.sandbox to an approved sandbox of the team", [f.device, f.vendor]),
	"resource": "spec.backend",
	"evidence": {"device": f.device, "vendor": f.vendor},
}} if {
	f.sandboxId == ""
} else := set()

# PR-002: the sandbox is on record, approved or active, and covers team, vendor and device.
pr_002(inp, f) := {finding("PR-002", sprintf("sandbox '%s' is not on record; request it from procurement", [f.sandboxId]), {"sandbox": f.sandboxId, "problem": "missing"})} if {
	f.sandboxId != ""
	f.sandbox == null
} else := {finding("PR-002", message, {"sandbox": s.id, "problem": problem}) |
	s := f.sandbox
	s != null
	problems := sandbox_problems(s, inp, f)
	some problem
	message := problems[problem]
}

sandbox_problems(s, inp, f) := object.union_n([
	status_problem(s),
	team_problem(s, inp.experiment.metadata.team),
	vendor_problem(s, f.vendor),
	device_problem(s, f.device),
])

status_problem(s) := {"status": sprintf("sandbox '%s' is %s, not approved or active", [s.id, s.status])} if not s.status in {"approved", "active"}

else := {}

team_problem(s, team) := {"team": sprintf("sandbox '%s' belongs to team '%s', not '%s'", [s.id, s.team, team])} if s.team != team

else := {}

vendor_problem(s, vendor) := {"vendor": sprintf("sandbox '%s' is for vendor '%s', not '%s'", [s.id, s.vendor, vendor])} if s.vendor != vendor

else := {}

device_problem(s, device) := {"device": sprintf("sandbox '%s' does not cover device '%s'", [s.id, device])} if not device in s.devices

else := {}

# PR-003: the sandbox's window is open now.
pr_003(inp, f) := {finding("PR-003", message, {"sandbox": s.id, "startNs": s.startNs, "endNs": s.endNs, "nowNs": inp.now_ns}) |
	s := f.sandbox
	s != null
	message := window_problem(s, inp.now_ns)
}

window_problem(s, now) := sprintf("sandbox '%s' opens in %d day(s); wait for its window or ask procurement to move it", [s.id, ceil((s.startNs - now) / lib.day_ns)]) if {
	now < s.startNs
} else := sprintf("sandbox '%s' expired %d day(s) ago; renew it or request a new sandbox", [s.id, floor((now - s.endNs) / lib.day_ns)]) if {
	now >= s.endNs
}

# PR-004: pilots are time-boxed (at most sandboxMaxWeeks weeks).
pr_004(f) := {finding("PR-004", message, {"sandbox": s.id, "weeks": weeks, "maxWeeks": limits.sandboxMaxWeeks}) |
	s := f.sandbox
	s != null
	s.endNs - s.startNs > limits.sandboxMaxWeeks * lib.week_ns
	weeks := round(((s.endNs - s.startNs) / lib.week_ns) * 10) / 10
	message := sprintf("sandbox '%s' runs %v weeks; pilots are time-boxed to %d weeks", [s.id, weeks, limits.sandboxMaxWeeks])
}

# PR-005: the estimate fits the sandbox's remaining budget, counted in the estimate's currency.
pr_005(f) := {finding("PR-005", message, {"sandbox": s.id, "estimate": cost, "remaining": remaining(s), "currency": s.currency}) |
	s := f.sandbox
	s != null
	s.currency == f.estimate.currency
	cost := f.estimate.cost
	cost > remaining(s)
	message := sprintf("estimated cost %v %s on '%s' exceeds the %v %s left in sandbox '%s' (budget %v, spent %v); reduce shots or ask procurement for more budget", [cost, s.currency, f.device, remaining(s), s.currency, s.id, s.budget, s.spent])
} | {finding("PR-005", message, {"sandbox": s.id, "currency": s.currency, "estimateCurrency": f.estimate.currency}) |
	s := f.sandbox
	s != null
	s.currency != f.estimate.currency
	message := sprintf("sandbox '%s' is budgeted in %s but prices are in %s, so the budget cannot be checked; ask procurement to restate it", [s.id, s.currency, f.estimate.currency])
}

# PR-006: one submission may not spend more than the per-submission cap.
pr_006(f) := {finding("PR-006", message, {"estimate": cost, "cap": limits.maxSubmissionCost}) |
	cost := f.estimate.cost
	cost > limits.maxSubmissionCost
	message := sprintf("estimated cost %v %s is over the per-submission cap of %v %s; split the run or reduce shots", [cost, limits.currency, limits.maxSubmissionCost, limits.currency])
}

# PR-007: the paid vendor is onboarded (on record and approved).
pr_007(f) := {{
	"rule": "PR-007",
	"message": sprintf("vendor '%s' is not onboarded (no approved vendor record); procurement must onboard it first", [f.vendor]),
	"resource": "spec.backend.vendor",
	"evidence": {"vendor": f.vendor},
}} if {
	not f.vendorRecord.approved == true
} else := set()

# PR-101 (warn): the sandbox expires within sandboxExpiryWarnDays days.
pr_101(inp, f) := {finding("PR-101", message, {"sandbox": s.id, "daysLeft": days}) |
	s := f.sandbox
	inp.now_ns < s.endNs
	s.endNs - inp.now_ns <= limits.sandboxExpiryWarnDays * lib.day_ns
	days := floor((s.endNs - inp.now_ns) / lib.day_ns)
	message := sprintf("sandbox '%s' expires in %d day(s); ask procurement to renew it if the work continues", [s.id, days])
}

# PR-102 (warn): after this run, less than budgetWarnFraction of the budget is left.
pr_102(f) := {finding("PR-102", message, {"sandbox": s.id, "remainingAfter": left, "budget": s.budget}) |
	s := f.sandbox
	s.budget > 0
	left := remaining(s) - f.estimate.cost
	left >= 0
	left < limits.budgetWarnFraction * s.budget
	message := sprintf("sandbox '%s' will have %v %s of %v left after this run (under %v%%)", [s.id, round(left * 100) / 100, s.currency, s.budget, limits.budgetWarnFraction * 100])
}
