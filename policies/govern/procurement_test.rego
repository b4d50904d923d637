package govern.procurement_test

import rego.v1

import data.govern.testdata_test as t

test_pr_001_deny_paid_without_sandbox if "PR-001" in t.denies(t.paid_with([{"op": "remove", "path": "/spec/sandbox"}]))

test_pr_001_allow_local_without_sandbox if not "PR-001" in t.denies(t.local)

test_pr_002_deny_sandbox_not_on_record if "PR-002" in t.denies(t.paid_with([{"op": "replace", "path": "/spec/sandbox", "value": "SBX-404"}]))

test_pr_002_deny_sandbox_requested_only if "PR-002" in t.denies(t.paid_with_sandbox([{"op": "replace", "path": "/status", "value": "requested"}]))

test_pr_002_deny_other_team if "PR-002" in t.denies(t.paid_with_sandbox([{"op": "replace", "path": "/team", "value": "other-team"}]))

test_pr_002_deny_device_not_covered if "PR-002" in t.denies(t.paid_with([{"op": "replace", "path": "/spec/backend/device", "value": "ibm_kyiv"}]))

test_pr_002_allow_active_sandbox_covering_device if not "PR-002" in t.denies(t.paid)

test_pr_003_deny_expired if "PR-003" in t.denies(t.paid_with_sandbox([{"op": "replace", "path": "/endNs", "value": t.now - t.day}]))

test_pr_003_deny_not_yet_open if "PR-003" in t.denies(t.paid_with_sandbox([{"op": "replace", "path": "/startNs", "value": t.now + t.day}]))

test_pr_003_allow_inside_window if not "PR-003" in t.denies(t.paid)

test_pr_004_deny_longer_than_twelve_weeks if "PR-004" in t.denies(t.paid_with_sandbox([{"op": "replace", "path": "/endNs", "value": t.sandbox.startNs + (85 * t.day)}]))

test_pr_004_allow_exactly_twelve_weeks if not "PR-004" in t.denies(t.paid_with_sandbox([{"op": "replace", "path": "/endNs", "value": t.sandbox.startNs + (84 * t.day)}]))

test_pr_005_deny_over_remaining_budget if "PR-005" in t.denies(t.paid_with_sandbox([{"op": "replace", "path": "/spent", "value": 9999}]))

test_pr_005_deny_budget_in_another_currency if "PR-005" in t.denies(t.paid_with_sandbox([{"op": "replace", "path": "/currency", "value": "EUR"}]))

test_pr_005_allow_within_budget if not "PR-005" in t.denies(t.paid)

test_pr_006_deny_over_submission_cap if {
	# 4000 ibm seconds at 1.60 USD is 6,400 USD, over the 5,000 USD cap
	inp := t.paid_with([{"op": "replace", "path": "/spec/shots", "value": 16000000}])
	"PR-006" in t.denies(object.union(inp, {"context": json.patch(t.context, [{"op": "replace", "path": "/sandboxes/SBX-1/budget", "value": 1000000}])}))
}

test_pr_006_allow_under_cap if not "PR-006" in t.denies(t.paid)

test_pr_007_deny_vendor_not_onboarded if {
	ctx := json.patch(t.context, [{"op": "replace", "path": "/vendors/ibm/approved", "value": false}])
	"PR-007" in t.denies(t.submission(t.paid_experiment, ctx))
}

test_pr_007_deny_vendor_unknown if {
	ctx := json.patch(t.context, [{"op": "remove", "path": "/vendors/ibm"}])
	"PR-007" in t.denies(t.submission(t.paid_experiment, ctx))
}

test_pr_007_allow_onboarded_vendor if not "PR-007" in t.denies(t.paid)

test_pr_101_deny_expires_within_a_week if "PR-101" in t.warns(t.paid_with_sandbox([{"op": "replace", "path": "/endNs", "value": t.now + (3 * t.day)}]))

test_pr_101_allow_far_expiry if not "PR-101" in t.warns(t.paid)

test_pr_102_deny_budget_under_twenty_percent if "PR-102" in t.warns(t.paid_with_sandbox([{"op": "replace", "path": "/spent", "value": 8500}]))

test_pr_102_allow_budget_healthy if not "PR-102" in t.warns(t.paid)

test_estimate_per_second_ibm if {
	# (2 s + 4000 shots * 0.00025 s) * 1.60 USD/s
	estimate := data.govern.decide(t.paid).estimate
	estimate.cost == 4.8
	estimate.model == "per_second"
	estimate.paid
}

test_estimate_per_task_per_shot_braket if {
	inp := t.paid_with([{"op": "replace", "path": "/spec/backend", "value": {"vendor": "aws-braket", "device": "ionq_aria", "region": "us-east-1"}}])
	data.govern.decide(inp).estimate.cost == 120.3
}

test_estimate_uses_the_vendor_prices_on_record if {
	negotiated := {"model": "negotiated", "perTask": 1, "perShot": 0.001}
	context := json.patch(t.context, [{"op": "add", "path": "/vendors/ibm/priceModel", "value": negotiated}])
	estimate := data.govern.decide(t.submission(t.paid_experiment, context)).estimate
	estimate.cost == 5 # 1 + 4000 * 0.001
	estimate.priceModel == negotiated
}

test_estimate_free_on_local if data.govern.decide(t.local).estimate.cost == 0
