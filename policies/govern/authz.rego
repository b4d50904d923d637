# Who may do what in the service: deny by default. The permission table (data.govern.permissions) gives
# each role its actions and their scope: its own team, or any team. Approvals are separated from
# requests: nobody approves what they requested themselves.
package govern.authz

import rego.v1

# Entrypoint govern/authz/decision.
decision := decide(input)

# req: {"token": {"id", "role", "team"}, "action", "resource": {"team"?, "requestedBy"?}}
decide(req) := {"allow": true, "reason": sprintf("%s may %s", [req.token.role, req.action])} if {
	not denial(req)
} else := {"allow": false, "reason": denial(req)}

denial(req) := sprintf("role '%s' may not %s", [req.token.role, req.action]) if {
	not scope(req)
} else := sprintf("role '%s' may %s only for its own team ('%s'), not for team '%s'", [req.token.role, req.action, req.token.team, object.get(req.resource, "team", "")]) if {
	scope(req) == "own_team"
	object.get(req.resource, "team", "") != req.token.team
} else := sprintf("separation of duties: %s cannot be done by the token that requested it", [req.action]) if {
	endswith(req.action, ".approve")
	object.get(req.resource, "requestedBy", "") == req.token.id
}

scope(req) := object.get(object.get(data.govern.permissions, req.token.role, {}), req.action, null) if {
	object.get(object.get(data.govern.permissions, req.token.role, {}), req.action, null) != null
}
