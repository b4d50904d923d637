package govern.authz_test

import data.govern.authz

# A request by token tok-1 of a role and team for an action on a resource.
request(role, team, action, resource) := {
	"token": {"id": "tok-1", "role": role, "team": team},
	"action": action,
	"resource": resource,
}

test_submitter_checks_for_own_team if {
	answer := authz.decision with input as request("submitter", "materials-rnd", "check", {"team": "materials-rnd"})
	answer == {"allow": true, "reason": "submitter may check"}
}

test_submitter_cannot_check_for_other_team if {
	answer := authz.decision with input as request("submitter", "materials-rnd", "check", {"team": "quantum-finance"})
	answer == {
		"allow": false,
		"reason": "role 'submitter' may check only for its own team ('materials-rnd'), not for team 'quantum-finance'",
	}
}

test_own_team_scope_without_a_team_is_denied if {
	answer := authz.decision with input as request("submitter", "materials-rnd", "check", {})
	not answer.allow
	answer.reason == "role 'submitter' may check only for its own team ('materials-rnd'), not for team ''"
}

test_compliance_reads_every_team if {
	ask := request("compliance", "audit", "submission.read", {"team": "quantum-finance"})
	authz.decision.allow with input as ask
}

test_submitter_cannot_manage_vendors if {
	answer := authz.decision with input as request("submitter", "materials-rnd", "vendor.manage", {})
	answer == {"allow": false, "reason": "role 'submitter' may not vendor.manage"}
}

test_unknown_role_and_action_are_denied if {
	not authz.decision.allow with input as request("intern", "materials-rnd", "check", {"team": "materials-rnd"})
	not authz.decision.allow with input as request("admin", "ops", "teleport", {})
}

test_procurement_approves_sandboxes if {
	resource := {"team": "materials-rnd", "requestedBy": "tok-9"}
	authz.decision.allow with input as request("procurement", "procurement", "sandbox.approve", resource)
}

test_nobody_approves_their_own_request if {
	resource := {"team": "materials-rnd", "requestedBy": "tok-1"}
	answer := authz.decision with input as request("procurement", "procurement", "sandbox.approve", resource)
	answer == {
		"allow": false,
		"reason": "separation of duties: sandbox.approve cannot be done by the token that requested it",
	}
}

test_own_team_is_checked_before_separation_of_duties if {
	resource := {"team": "other-team", "requestedBy": "tok-1"}
	answer := authz.decision with input as request("submitter", "materials-rnd", "waiver.request", resource)
	contains(answer.reason, "only for its own team")
}

test_admin_reloads_policy if {
	authz.decision.allow with input as request("admin", "ops", "policy.reload", {})
}

test_permissions_come_from_the_table if {
	permissions := {"auditor": {"audit.read": "any"}}
	authz.decision.allow with input as request("auditor", "ops", "audit.read", {})
		with data.govern.permissions as permissions
	not authz.decision.allow with input as request("admin", "ops", "audit.read", {})
		with data.govern.permissions as permissions
}

test_a_request_without_a_token_is_denied if {
	answer := authz.decision with input as {"action": "check", "resource": {}}
	answer == {"allow": false, "reason": "the request names no token role and action"}
}

test_only_a_govern_service_writes_governs_own_lineage if {
	resource := {"team": "platform-qa"}
	producer := authz.decision with input as request("producer", "platform", "lineage.write_owned", resource)
	producer == {"allow": false, "reason": "role 'producer' may not lineage.write_owned"}
	admin := authz.decision with input as request("admin", "platform", "lineage.write_owned", resource)
	not admin.allow
	authz.decision.allow with input as request("service", "platform", "lineage.write_owned", resource)
}
