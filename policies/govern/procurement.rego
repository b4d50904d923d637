# METADATA
# scope: package
# title: Procurement
# description: >-
#   Paid backends run only on an approved sandbox of the team and vendor that covers the device, inside
#   its time box, within its budget and the per-submission cap, with an onboarded vendor. Free backends
#   pass every procurement rule.
package govern.procurement

import data.govern.lib

limits := data.govern.limits

# METADATA
# title: Paid backends need a sandbox
# description: A catalogued paid backend may only be used inside a vendor sandbox named in spec.sandbox.
# custom:
#   id: PR-001
#   severity: high
#   waivable: false
#   remediation: Request a sandbox for the vendor and set spec.sandbox to its id.
deny contains finding if {
	lib.paid
	lib.sandbox_id == ""
	finding := {
		"rule": "PR-001",
		"message": sprintf(
			"device '%s' (vendor '%s') is billed, but the experiment names no sandbox; %s",
			[lib.device, lib.vendor, "set spec.sandbox to an approved sandbox of the team"],
		),
		"resource": "spec.backend",
		"evidence": {"device": lib.device, "vendor": lib.vendor},
	}
}

# METADATA
# title: The sandbox is on record, approved, and covers team, vendor and device
# description: >-
#   The sandbox named in spec.sandbox must exist in the sandbox register, have status approved or active, belong to the
#   experiment's team, be for the backend's vendor and list the device.
# custom:
#   id: PR-002
#   severity: high
#   waivable: false
#   remediation: Use an approved sandbox of your team that covers the vendor and device, or have the sandbox amended.
deny contains finding if {
	lib.paid
	some problem, message in sandbox_problems
	finding := {
		"rule": "PR-002",
		"message": message,
		"resource": "spec.sandbox",
		"evidence": {"sandbox": lib.sandbox_id, "problem": problem},
	}
}

# What is wrong with the named sandbox, by problem (PR-002): not on record, or on record but not approved
# or active, or not covering the team, the vendor or the device.
sandbox_problems.missing := sprintf("sandbox '%s' is not on record; request it from procurement", [lib.sandbox_id]) if {
	lib.sandbox_id != ""
	not lib.sandbox
}

sandbox_problems.status := sprintf("sandbox '%s' is %s, not approved or active", [s.id, s.status]) if {
	s := lib.sandbox
	not s.status in {"approved", "active"}
}

sandbox_problems.team := sprintf("sandbox '%s' belongs to team '%s', not '%s'", [s.id, s.team, team]) if {
	s := lib.sandbox
	team := input.experiment.metadata.team
	s.team != team
}

sandbox_problems.vendor := sprintf("sandbox '%s' is for vendor '%s', not '%s'", [s.id, s.vendor, lib.vendor]) if {
	s := lib.sandbox
	s.vendor != lib.vendor
}

sandbox_problems.device := sprintf("sandbox '%s' does not cover device '%s'", [s.id, lib.device]) if {
	s := lib.sandbox
	not lib.device in s.devices
}

# METADATA
# title: The sandbox window is open
# description: >-
#   The evaluation time must fall inside the sandbox window [startNs, endNs). A sandbox without a valid window, or an
#   evaluation without a time, fails.
# custom:
#   id: PR-003
#   severity: high
#   waivable: false
#   remediation: Wait for the sandbox to open, or renew / request a sandbox covering today.
deny contains finding if {
	lib.paid
	s := lib.sandbox
	finding := {
		"rule": "PR-003",
		"message": window_problem,
		"resource": "spec.sandbox",
		"evidence": {"sandbox": s.id, "startNs": s.startNs, "endNs": s.endNs, "nowNs": input.now_ns},
	}
}

# Why the sandbox's window [startNs, endNs) is not open now (PR-003).
window_problem := sprintf(
	"sandbox '%s' opens in %d day(s); wait for its window or ask procurement to move it",
	[s.id, ceil((s.startNs - input.now_ns) / lib.day_ns)],
) if {
	s := lib.sandbox
	input.now_ns < s.startNs
}

window_problem := sprintf(
	"sandbox '%s' expired %d day(s) ago; renew it or request a new sandbox",
	[s.id, floor((input.now_ns - s.endNs) / lib.day_ns)],
) if {
	s := lib.sandbox
	input.now_ns >= s.startNs
	input.now_ns >= s.endNs
}

# METADATA
# title: Pilots are time-boxed
# description: >-
#   A sandbox window may not be longer than limits.sandboxMaxWeeks weeks (12): pilots are time-boxed.
# custom:
#   id: PR-004
#   severity: high
#   waivable: false
#   remediation: Shorten the sandbox window or split it into consecutive, separately approved sandboxes.
deny contains finding if {
	lib.paid
	s := lib.sandbox
	s.endNs - s.startNs > limits.sandboxMaxWeeks * lib.week_ns
	weeks := round(((s.endNs - s.startNs) / lib.week_ns) * 10) / 10
	finding := {
		"rule": "PR-004",
		"message": sprintf(
			"sandbox '%s' runs %v weeks; pilots are time-boxed to %d weeks",
			[s.id, weeks, limits.sandboxMaxWeeks],
		),
		"resource": "spec.sandbox",
		"evidence": {"sandbox": s.id, "weeks": weeks, "maxWeeks": limits.sandboxMaxWeeks},
	}
}

# METADATA
# title: The estimate fits in the remaining budget
# description: >-
#   The estimated cost of the submission (data.govern.pricing) may not exceed the sandbox's remaining budget (budget -
#   spent). A sandbox budgeted in another currency than the estimate fails the check.
# custom:
#   id: PR-005
#   severity: high
#   waivable: true
#   remediation: Reduce the shot count or get the sandbox budget raised.
deny contains finding if {
	lib.paid
	finding := object.union({"rule": "PR-005", "resource": "spec.sandbox"}, budget_problem)
}

remaining := lib.sandbox.budget - lib.sandbox.spent

# Why the estimate does not fit the sandbox's remaining budget (PR-005): it is larger, or the budget is in
# another currency than the prices, so it cannot be compared.
budget_problem := {
	"message": sprintf(
		"estimated cost %v %s on '%s' exceeds the %v %s left in sandbox '%s' (budget %v, spent %v); %s",
		[cost, s.currency, lib.device, remaining, s.currency, s.id, s.budget, s.spent, more_budget],
	),
	"evidence": {"sandbox": s.id, "estimate": cost, "remaining": remaining, "currency": s.currency},
} if {
	s := lib.sandbox
	s.currency == lib.estimate.currency
	cost := lib.estimate.cost
	cost > remaining
}

budget_problem := {
	"message": sprintf(
		"sandbox '%s' is budgeted in %s but prices are in %s, so the budget cannot be checked; %s",
		[s.id, s.currency, lib.estimate.currency, "ask procurement to restate it"],
	),
	"evidence": {"sandbox": s.id, "currency": s.currency, "estimateCurrency": lib.estimate.currency},
} if {
	s := lib.sandbox
	s.currency != lib.estimate.currency
}

more_budget := "reduce shots or ask procurement for more budget"

# METADATA
# title: Per-submission cost ceiling
# description: The estimated cost of one submission may not exceed limits.maxSubmissionCost.
# custom:
#   id: PR-006
#   severity: medium
#   waivable: true
#   remediation: Reduce the shot count or split the run into smaller submissions.
deny contains finding if {
	lib.paid
	cost := lib.estimate.cost
	cost > limits.maxSubmissionCost
	finding := {
		"rule": "PR-006",
		"message": sprintf(
			"estimated cost %v %s is over the per-submission cap of %v %s; split the run or reduce shots",
			[cost, limits.currency, limits.maxSubmissionCost, limits.currency],
		),
		"resource": "spec.sandbox",
		"evidence": {"estimate": cost, "cap": limits.maxSubmissionCost},
	}
}

# METADATA
# title: Paid vendors are onboarded
# description: >-
#   The vendor of a paid backend must be in the vendor register (context.vendors) with approved: true.
# custom:
#   id: PR-007
#   severity: high
#   waivable: false
#   remediation: Complete vendor onboarding (procurement and security review) before submitting.
deny contains finding if {
	lib.paid
	not lib.vendor_record.approved == true
	finding := {
		"rule": "PR-007",
		"message": sprintf(
			"vendor '%s' is not onboarded (no approved vendor record); procurement must onboard it first",
			[lib.vendor],
		),
		"resource": "spec.backend.vendor",
		"evidence": {"vendor": lib.vendor},
	}
}

# METADATA
# title: Pilot failure budget spent
# description: >-
#   A paid submission is denied once any limit of its sandbox's pilot failure budget is used up: the counted failures
#   (the kinds in failureBudget.counts; a fallback never counts) reach maxFailedJobs, their share of the ended jobs
#   reaches maxFailedShare once shareAfterJobs have ended, or their spend reaches maxFailedSpend.
# custom:
#   id: PR-008
#   severity: high
#   waivable: true
#   remediation: Find out why the pilot's runs fail before spending more, or ask compliance for a waiver.
deny contains finding if {
	lib.paid
	some limit, use in failure_budget_use
	use.used >= use.allowed
	finding := {
		"rule": "PR-008",
		"message": sprintf(
			"sandbox '%s' has spent its failure budget: %s %v of %v allowed; %s",
			[lib.sandbox.id, limit, use.used, use.allowed, "find out why its runs fail before spending more"],
		),
		"resource": "spec.sandbox",
		"evidence": {"sandbox": lib.sandbox.id, "limit": limit, "used": use.used, "allowed": use.allowed},
	}
}

# The pilot's failure budget and record, and the failures it counts.
pilot := lib.sandbox.pilot

counted_failures := sum([object.get(pilot.failures, kind, 0) | some kind in pilot.failureBudget.counts])

counted_spend := sum([spend |
	some kind in pilot.failureBudget.counts
	spend := object.get(pilot.failures, sprintf("%sSpend", [kind]), 0)
])

# How much of each limit the pilot named is used, by limit (PR-008, PR-103).
failure_budget_use.maxFailedJobs := {"used": counted_failures, "allowed": pilot.failureBudget.maxFailedJobs}

failure_budget_use.maxFailedShare := {
	"used": counted_failures / pilot.failures.ended,
	"allowed": pilot.failureBudget.maxFailedShare,
} if {
	pilot.failures.ended >= object.get(pilot.failureBudget, "shareAfterJobs", 10)
	pilot.failures.ended > 0
}

failure_budget_use.maxFailedSpend := {"used": counted_spend, "allowed": pilot.failureBudget.maxFailedSpend}

# METADATA
# title: Sandbox expires soon
# description: Warns when the sandbox window closes within limits.sandboxExpiryWarnDays days.
# custom:
#   id: PR-101
#   severity: low
#   waivable: false
#   remediation: Plan a sandbox renewal if the pilot continues.
warn contains finding if {
	lib.paid
	s := lib.sandbox
	input.now_ns < s.endNs
	s.endNs - input.now_ns <= limits.sandboxExpiryWarnDays * lib.day_ns
	days := floor((s.endNs - input.now_ns) / lib.day_ns)
	finding := {
		"rule": "PR-101",
		"message": sprintf(
			"sandbox '%s' expires in %d day(s); ask procurement to renew it if the work continues",
			[s.id, days],
		),
		"resource": "spec.sandbox",
		"evidence": {"sandbox": s.id, "daysLeft": days},
	}
}

# METADATA
# title: Sandbox budget running low
# description: Warns when the budget left after this run is under limits.budgetWarnFraction of the sandbox budget.
# custom:
#   id: PR-102
#   severity: low
#   waivable: false
#   remediation: Request a budget top-up before the next runs.
warn contains finding if {
	lib.paid
	s := lib.sandbox
	s.budget > 0
	left := remaining - lib.estimate.cost
	left >= 0
	left < limits.budgetWarnFraction * s.budget
	finding := {
		"rule": "PR-102",
		"message": sprintf(
			"sandbox '%s' will have %v %s of %v left after this run (under %v%%)",
			[s.id, round(left * 100) / 100, s.currency, s.budget, limits.budgetWarnFraction * 100],
		),
		"resource": "spec.sandbox",
		"evidence": {"sandbox": s.id, "remainingAfter": left, "budget": s.budget},
	}
}

# METADATA
# title: Pilot failure budget nearly spent
# description: >-
#   Warns when any limit of the sandbox's pilot failure budget is at least limits.failureBudgetWarnFraction (80%)
#   used but not yet spent (then PR-008 denies).
# custom:
#   id: PR-103
#   severity: low
#   waivable: false
#   remediation: Look into the pilot's failed runs before its failure budget denies new paid submissions.
warn contains finding if {
	lib.paid
	some limit, use in failure_budget_use
	use.used < use.allowed
	use.used >= limits.failureBudgetWarnFraction * use.allowed
	finding := {
		"rule": "PR-103",
		"message": sprintf(
			"sandbox '%s' has used %s %v of %v allowed (over %v%% of its failure budget)",
			[lib.sandbox.id, limit, use.used, use.allowed, limits.failureBudgetWarnFraction * 100],
		),
		"resource": "spec.sandbox",
		"evidence": {"sandbox": lib.sandbox.id, "limit": limit, "used": use.used, "allowed": use.allowed},
	}
}
