package govern.main_test

import rego.v1

import data.govern
import data.govern.testdata_test as t

eu_data := t.submission(t.with_dataset(t.paid_experiment, {"region": "eu-de"}), t.context)

waiver := {
	"id": "W-1", "rule": "DC-004", "scope": {"team": "materials-rnd", "experiment": "vqe-h2-sweep"},
	"status": "approved", "requestedBy": "alice@example.com", "approver": "compliance@example.com",
	"reason": "DPO sign-off", "expiresNs": t.now + t.day,
}

with_waiver(inp, w) := object.union(inp, {"context": object.union(inp.context, {"waivers": [w]})})

test_clean_paid_submission_is_allowed if {
	decision := govern.decide(t.paid)
	decision.allow
	decision.deny == []
	decision.warn == []
}

test_clean_local_submission_is_allowed if govern.decide(t.local).allow

test_decision_shape if {
	decision := govern.decide(eu_data)
	not decision.allow
	some finding in decision.deny
	finding.rule == "DC-004"
	finding.area == "data_classification"
	finding.severity == "high"
	finding.waivable
	finding.resource == "spec.datasets[0]"
	finding.remediation != ""
}

test_waiver_turns_deny_into_waived if {
	inp := with_waiver(eu_data, waiver)
	decision := govern.decide(inp)
	decision.allow
	some finding in decision.waived
	finding.rule == "DC-004"
	finding.waiver.id == "W-1"
	finding.waiver.approver == "compliance@example.com"
}

test_expired_waiver_does_nothing if "DC-004" in t.denies(with_waiver(eu_data, object.union(waiver, {"expiresNs": t.now - 1})))

test_unapproved_waiver_does_nothing if "DC-004" in t.denies(with_waiver(eu_data, object.union(waiver, {"status": "requested"})))

test_self_approved_waiver_does_nothing if "DC-004" in t.denies(with_waiver(eu_data, object.union(waiver, {"approver": "alice@example.com"})))

test_waiver_for_other_experiment_does_nothing if "DC-004" in t.denies(with_waiver(eu_data, object.union(waiver, {"scope": {"team": "materials-rnd", "experiment": "other"}})))

test_waiver_for_other_team_does_nothing if "DC-004" in t.denies(with_waiver(eu_data, object.union(waiver, {"scope": {"team": "other-team", "experiment": "*"}})))

test_waiver_scoped_to_other_sandbox_does_nothing if "DC-004" in t.denies(with_waiver(eu_data, object.union(waiver, {"scope": {"team": "materials-rnd", "experiment": "*", "sandbox": "SBX-9"}})))

test_wildcard_waiver_applies if "DC-004" in t.waived(with_waiver(eu_data, object.union(waiver, {"scope": {"team": "materials-rnd", "experiment": "*", "sandbox": "SBX-1"}})))

test_unknown_rule_id_is_critical_and_not_waivable if {
	entry := govern.catalogue_entry("XX-999")
	entry.severity == "critical"
	not entry.waivable
}

test_every_rule_in_the_catalogue_has_remediation if {
	every id, entry in data.govern.catalogue {
		entry.remediation != ""
		entry.kind in {"deny", "warn"}
	}
}
