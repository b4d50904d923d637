package govern.procurement_test

import data.govern.procurement
import data.govern.testdata_test as t

# A patch of the paid submission's sandbox record.
sandbox_field(field, value) := t.put(sprintf("/context/sandboxes/SBX-1/%s", [field]), value)

# The paid submission with these patches.
paid(patches) := json.patch(t.paid, patches)

test_pr_001_deny_paid_without_sandbox if {
	findings := procurement.deny with input as paid([t.drop("/experiment/spec/sandbox")])
	findings == {{
		"rule": "PR-001",
		"message": concat(" ", [
			"device 'ibm_brisbane' (vendor 'ibm') is billed, but the experiment names no sandbox;",
			"set spec.sandbox to an approved sandbox of the team",
		]),
		"resource": "spec.backend",
		"evidence": {"device": "ibm_brisbane", "vendor": "ibm"},
	}}
}

test_pr_001_allow_local_without_sandbox if {
	findings := procurement.deny with input as t.local
	not "PR-001" in t.rules(findings)
}

test_pr_002_deny_sandbox_not_on_record if {
	findings := procurement.deny with input as paid([t.put("/experiment/spec/sandbox", "SBX-404")])
	findings == {{
		"rule": "PR-002",
		"message": "sandbox 'SBX-404' is not on record; request it from procurement",
		"resource": "spec.sandbox",
		"evidence": {"sandbox": "SBX-404", "problem": "missing"},
	}}
}

test_pr_002_deny_sandbox_requested_only if {
	findings := procurement.deny with input as paid([sandbox_field("status", "requested")])
	some finding in findings
	finding.message == "sandbox 'SBX-1' is requested, not approved or active"
	finding.evidence == {"sandbox": "SBX-1", "problem": "status"}
}

test_pr_002_deny_other_team if {
	findings := procurement.deny with input as paid([sandbox_field("team", "other-team")])
	some finding in findings
	finding.message == "sandbox 'SBX-1' belongs to team 'other-team', not 'materials-rnd'"
}

test_pr_002_deny_other_vendor if {
	findings := procurement.deny with input as paid([sandbox_field("vendor", "aws-braket")])
	some finding in findings
	finding.message == "sandbox 'SBX-1' is for vendor 'aws-braket', not 'ibm'"
}

test_pr_002_deny_device_not_covered if {
	inp := paid([t.put("/experiment/spec/backend/device", "ibm_kyiv")])
	findings := procurement.deny with input as inp
	some finding in findings
	finding.message == "sandbox 'SBX-1' does not cover device 'ibm_kyiv'"
}

test_pr_002_deny_every_problem_is_reported if {
	inp := paid([sandbox_field("status", "revoked"), sandbox_field("team", "x"), sandbox_field("devices", [])])
	findings := procurement.deny with input as inp
	{finding.evidence.problem | some finding in findings; finding.rule == "PR-002"} == {"status", "team", "device"}
}

test_pr_002_allow_active_sandbox_covering_device if {
	findings := procurement.deny with input as paid([])
	not "PR-002" in t.rules(findings)
}

test_pr_002_allow_approved_sandbox if {
	findings := procurement.deny with input as paid([sandbox_field("status", "approved")])
	not "PR-002" in t.rules(findings)
}

test_pr_003_deny_expired if {
	findings := procurement.deny with input as paid([sandbox_field("endNs", t.now - t.day)])
	some finding in findings
	finding.rule == "PR-003"
	finding.message == "sandbox 'SBX-1' expired 1 day(s) ago; renew it or request a new sandbox"
	finding.evidence == {"sandbox": "SBX-1", "startNs": t.sandbox.startNs, "endNs": t.now - t.day, "nowNs": t.now}
}

test_pr_003_deny_at_the_end_of_the_window if {
	findings := procurement.deny with input as paid([sandbox_field("endNs", t.now)])
	"PR-003" in t.rules(findings)
}

test_pr_003_deny_not_yet_open if {
	findings := procurement.deny with input as paid([sandbox_field("startNs", t.now + t.day)])
	some finding in findings
	finding.rule == "PR-003"
	finding.message == "sandbox 'SBX-1' opens in 1 day(s); wait for its window or ask procurement to move it"
}

test_pr_003_allow_inside_window if {
	findings := procurement.deny with input as paid([])
	not "PR-003" in t.rules(findings)
}

test_pr_004_deny_longer_than_twelve_weeks if {
	findings := procurement.deny with input as paid([sandbox_field("endNs", t.sandbox.startNs + (85 * t.day))])
	some finding in findings
	finding.rule == "PR-004"
	finding.message == "sandbox 'SBX-1' runs 12.1 weeks; pilots are time-boxed to 12 weeks"
	finding.evidence == {"sandbox": "SBX-1", "weeks": 12.1, "maxWeeks": 12}
}

test_pr_004_deny_longer_than_the_limit_on_record if {
	findings := procurement.deny with input as t.paid
		with data.govern.limits.sandboxMaxWeeks as 4
	some finding in findings
	finding.message == "sandbox 'SBX-1' runs 10 weeks; pilots are time-boxed to 4 weeks"
}

test_pr_004_allow_exactly_twelve_weeks if {
	findings := procurement.deny with input as paid([sandbox_field("endNs", t.sandbox.startNs + (84 * t.day))])
	not "PR-004" in t.rules(findings)
}

test_pr_005_deny_over_remaining_budget if {
	findings := procurement.deny with input as paid([sandbox_field("spent", 9999)])
	some finding in findings
	finding.rule == "PR-005"
	finding.message == concat(" ", [
		"estimated cost 4.8 USD on 'ibm_brisbane' exceeds the 1 USD left in sandbox 'SBX-1' (budget 10000,",
		"spent 9999); reduce shots or ask procurement for more budget",
	])
	finding.evidence == {"sandbox": "SBX-1", "estimate": 4.8, "remaining": 1, "currency": "USD"}
}

test_pr_005_deny_budget_in_another_currency if {
	findings := procurement.deny with input as paid([sandbox_field("currency", "EUR")])
	some finding in findings
	finding.rule == "PR-005"
	finding.message == concat(" ", [
		"sandbox 'SBX-1' is budgeted in EUR but prices are in USD, so the budget cannot be checked;",
		"ask procurement to restate it",
	])
	finding.evidence == {"sandbox": "SBX-1", "currency": "EUR", "estimateCurrency": "USD"}
}

test_pr_005_allow_within_budget if {
	findings := procurement.deny with input as paid([])
	not "PR-005" in t.rules(findings)
}

test_pr_006_deny_over_submission_cap if {
	# (2 s + 16,000,000 shots * 0.00025 s) * 1.60 USD/s is 6,403.2 USD, over the 5,000 USD cap
	findings := procurement.deny with input as paid([
		t.put("/experiment/spec/shots", 16000000),
		sandbox_field("budget", 1000000),
	])
	findings == {{
		"rule": "PR-006",
		"message": concat(" ", [
			"estimated cost 6403.2 USD is over the per-submission cap of 5000 USD;",
			"split the run or reduce shots",
		]),
		"resource": "spec.sandbox",
		"evidence": {"estimate": 6403.2, "cap": 5000},
	}}
}

test_pr_006_deny_over_the_cap_on_record if {
	findings := procurement.deny with input as t.paid
		with data.govern.limits.maxSubmissionCost as 1
	"PR-006" in t.rules(findings)
}

test_pr_006_allow_under_cap if {
	findings := procurement.deny with input as paid([])
	not "PR-006" in t.rules(findings)
}

test_pr_007_deny_vendor_not_onboarded if {
	findings := procurement.deny with input as paid([t.put("/context/vendors/ibm/approved", false)])
	findings == {{
		"rule": "PR-007",
		"message": "vendor 'ibm' is not onboarded (no approved vendor record); procurement must onboard it first",
		"resource": "spec.backend.vendor",
		"evidence": {"vendor": "ibm"},
	}}
}

test_pr_007_deny_vendor_unknown if {
	findings := procurement.deny with input as paid([t.drop("/context/vendors/ibm")])
	"PR-007" in t.rules(findings)
}

test_pr_007_allow_onboarded_vendor if {
	findings := procurement.deny with input as paid([])
	not "PR-007" in t.rules(findings)
}

test_pr_101_deny_expires_within_a_week if {
	findings := procurement.warn with input as paid([sandbox_field("endNs", t.now + (3 * t.day))])
	findings == {{
		"rule": "PR-101",
		"message": "sandbox 'SBX-1' expires in 3 day(s); ask procurement to renew it if the work continues",
		"resource": "spec.sandbox",
		"evidence": {"sandbox": "SBX-1", "daysLeft": 3},
	}}
}

test_pr_101_allow_far_expiry if {
	findings := procurement.warn with input as paid([])
	not "PR-101" in t.rules(findings)
}

test_pr_101_allow_expired_sandbox if {
	findings := procurement.warn with input as paid([sandbox_field("endNs", t.now)])
	not "PR-101" in t.rules(findings)
}

test_pr_102_deny_budget_under_twenty_percent if {
	findings := procurement.warn with input as paid([sandbox_field("spent", 8500)])
	findings == {{
		"rule": "PR-102",
		"message": "sandbox 'SBX-1' will have 1495.2 USD of 10000 left after this run (under 20%)",
		"resource": "spec.sandbox",
		"evidence": {"sandbox": "SBX-1", "remainingAfter": 1495.2, "budget": 10000},
	}}
}

test_pr_102_allow_budget_healthy if {
	findings := procurement.warn with input as paid([])
	not "PR-102" in t.rules(findings)
}

test_pr_102_allow_over_budget if {
	findings := procurement.warn with input as paid([sandbox_field("spent", 9999)])
	not "PR-102" in t.rules(findings)
}

test_free_backends_pass_every_procurement_rule if {
	count(procurement.deny) == 0 with input as t.local
	count(procurement.warn) == 0 with input as json.patch(t.local, [
		t.add("/experiment/spec/sandbox", "SBX-1"),
		sandbox_field("endNs", t.now + t.day),
	])
}

# The paid submission on a pilot sandbox with this failure budget and failure record.
pilot(budget, failures) := paid([t.add("/context/sandboxes/SBX-1/pilot", {
	"id": "SBX-1", "failureBudget": object.union({"shareAfterJobs": 10, "counts": ["failed"]}, budget),
	"failures": object.union(
		{"ended": 0, "failed": 0, "cancelled": 0, "fallenBack": 0, "failedSpend": 0, "cancelledSpend": 0},
		failures,
	),
})])

test_pr_008_allow_under_budget if {
	inp := pilot({"maxFailedJobs": 5}, {"ended": 10, "failed": 3})
	not "PR-008" in t.rules(procurement.deny) with input as inp
	not "PR-103" in t.rules(procurement.warn) with input as inp
}

test_pr_008_deny_at_max_failed_jobs if {
	findings := procurement.deny with input as pilot({"maxFailedJobs": 5}, {"ended": 10, "failed": 5})
	some finding in findings
	finding.rule == "PR-008"
	finding.evidence == {"sandbox": "SBX-1", "limit": "maxFailedJobs", "used": 5, "allowed": 5}
}

test_pr_008_deny_at_max_failed_share if {
	findings := procurement.deny with input as pilot({"maxFailedShare": 0.5}, {"ended": 10, "failed": 5})
	some finding in findings
	finding.evidence == {"sandbox": "SBX-1", "limit": "maxFailedShare", "used": 0.5, "allowed": 0.5}
}

test_pr_008_share_not_applied_before_share_after_jobs if {
	inp := pilot({"maxFailedShare": 0.5}, {"ended": 9, "failed": 9})
	not "PR-008" in t.rules(procurement.deny) with input as inp
	not "PR-103" in t.rules(procurement.warn) with input as inp
}

test_pr_008_deny_at_max_failed_spend if {
	inp := pilot({"maxFailedSpend": 100}, {"ended": 2, "failed": 2, "failedSpend": 100.5})
	findings := procurement.deny with input as inp
	some finding in findings
	finding.evidence == {"sandbox": "SBX-1", "limit": "maxFailedSpend", "used": 100.5, "allowed": 100}
}

test_pr_008_fallback_not_counted if {
	inp := pilot({"maxFailedJobs": 2, "counts": ["failed", "cancelled"]}, {"ended": 9, "fallenBack": 9})
	not "PR-008" in t.rules(procurement.deny) with input as inp
}

test_pr_008_kinds_not_counted_are_not_counted if {
	inp := pilot({"maxFailedJobs": 2, "maxFailedSpend": 10}, {"ended": 9, "cancelled": 9, "cancelledSpend": 50})
	not "PR-008" in t.rules(procurement.deny) with input as inp
	findings := procurement.deny with input as pilot(
		{"maxFailedJobs": 2, "counts": ["failed", "cancelled"]},
		{"ended": 9, "failed": 1, "cancelled": 1},
	)
	"PR-008" in t.rules(findings)
}

test_pr_008_free_backends_unaffected if {
	inp := json.patch(pilot({"maxFailedJobs": 1}, {"ended": 1, "failed": 1}), [t.put("/experiment", t.local_experiment)])
	not "PR-008" in t.rules(procurement.deny) with input as inp
}

test_pr_103_deny_warns_at_80_percent if {
	inp := pilot({"maxFailedJobs": 5}, {"ended": 10, "failed": 4})
	findings := procurement.warn with input as inp
	some finding in findings
	finding.rule == "PR-103"
	finding.evidence == {"sandbox": "SBX-1", "limit": "maxFailedJobs", "used": 4, "allowed": 5}
	not "PR-008" in t.rules(procurement.deny) with input as inp
}

test_pr_103_allow_when_spent_it_is_pr_008s if {
	findings := procurement.warn with input as pilot({"maxFailedJobs": 5}, {"ended": 10, "failed": 5})
	not "PR-103" in t.rules(findings)
}

test_pr_103_allow_under_80_percent if {
	findings := procurement.warn with input as pilot({"maxFailedJobs": 5}, {"ended": 10, "failed": 3})
	not "PR-103" in t.rules(findings)
}
