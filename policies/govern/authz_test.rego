package govern.authz_test

import rego.v1

import data.govern.authz

token(role, team) := {"id": "tok-1", "role": role, "team": team}

ask(role, team, action, resource) := authz.decide({"token": token(role, team), "action": action, "resource": resource})

test_submitter_checks_for_own_team if ask("submitter", "materials-rnd", "check", {"team": "materials-rnd"}).allow

test_submitter_cannot_check_for_other_team if {
	answer := ask("submitter", "materials-rnd", "check", {"team": "quantum-finance"})
	not answer.allow
	contains(answer.reason, "own team")
}

test_compliance_reads_every_team if ask("compliance", "audit", "submission.read", {"team": "quantum-finance"}).allow

test_submitter_cannot_manage_vendors if {
	answer := ask("submitter", "materials-rnd", "vendor.manage", {})
	not answer.allow
	contains(answer.reason, "may not")
}

test_unknown_role_and_action_are_denied if {
	not ask("intern", "materials-rnd", "check", {"team": "materials-rnd"}).allow
	not ask("admin", "ops", "teleport", {}).allow
}

test_procurement_approves_sandboxes if ask("procurement", "procurement", "sandbox.approve", {"team": "materials-rnd", "requestedBy": "tok-9"}).allow

test_nobody_approves_their_own_request if {
	answer := ask("procurement", "procurement", "sandbox.approve", {"team": "materials-rnd", "requestedBy": "tok-1"})
	not answer.allow
	contains(answer.reason, "separation of duties")
}

test_admin_reloads_policy if ask("admin", "ops", "policy.reload", {}).allow
