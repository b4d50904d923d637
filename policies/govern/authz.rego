# METADATA
# scope: package
# title: Authorization
# description: >-
#   Who may do what in the service, deny by default. The permission table (data.govern.permissions) gives
#   each role its actions and their scope: its own team, or any team. Approvals are separated from
#   requests: nobody approves what they requested themselves. The input is the request:
#   {"token": {"id", "role", "team"}, "action", "resource": {"team"?, "requestedBy"?}}.
package govern.authz

# METADATA
# title: Authorization decision
# description: Whether the token may take the action on the resource, and why (or why not).
# entrypoint: true
default decision := {"allow": false, "reason": "the request names no token role and action"}

decision := {"allow": false, "reason": denial}

decision := {"allow": true, "reason": sprintf("%s may %s", [role, action])} if not denial

role := input.token.role

action := input.action

# own_team | any; undefined when the role may not take the action at all.
scope := data.govern.permissions[role][action] if data.govern.permissions[role][action] != null

resource_team := object.get(input.resource, "team", "")

outside_own_team if {
	scope == "own_team"
	resource_team != input.token.team
}

approves_own_request if {
	endswith(action, ".approve")
	object.get(input.resource, "requestedBy", "") == input.token.id
}

# Why the request is denied: the first of these that holds.
denial := sprintf("role '%s' may not %s", [role, action]) if not scope

denial := sprintf(
	"role '%s' may %s only for its own team ('%s'), not for team '%s'",
	[role, action, input.token.team, resource_team],
) if {
	outside_own_team
}

denial := sprintf("separation of duties: %s cannot be done by the token that requested it", [action]) if {
	scope
	not outside_own_team
	approves_own_request
}
