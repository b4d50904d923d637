package govern.main_test

import data.govern.testdata_test as t

test_clean_paid_submission_is_allowed if {
	decision := data.govern.decision with input as t.paid
		with data.govern.custom as {}
	decision == {
		"allow": true,
		"deny": [],
		"warn": [],
		"waived": [],
		"estimate": {
			"cost": 4.8, "currency": "USD", "model": "per_second", "paid": true,
			"priceModel": {"model": "per_second", "ratePerSecond": 1.60, "baseSeconds": 2.0, "secondsPerShot": 0.00025},
		},
	}
}

test_clean_local_submission_is_allowed if {
	decision := data.govern.decision with input as t.local
		with data.govern.custom as {}
	decision.allow
	decision.deny == []
}

test_decision_shape if {
	decision := data.govern.decision with input as t.eu_data
		with data.govern.catalogue as t.catalogue
		with data.govern.custom as {}
	not decision.allow
	decision.deny == [{
		"rule": "DC-004",
		"message": concat(" ", [
			"dataset s3://rnd-data/molecules/h2 must stay in jurisdiction 'eu' (region 'eu-de'), but device",
			"'ibm_brisbane' (vendor 'ibm', external) runs in region 'us-east' (jurisdiction 'us')",
		]),
		"resource": "spec.datasets[0]",
		"evidence": {"dataset": "s3://rnd-data/molecules/h2", "datasetRegion": "eu-de", "backendRegion": "us-east"},
		"area": "data_classification",
		"severity": "high",
		"remediation": "Use a device in the dataset's jurisdiction.",
		"waivable": true,
	}]
	decision.warn == []
	decision.waived == []
	decision.estimate.cost == 4.8
}

test_warnings_do_not_deny if {
	inp := json.patch(t.local, [t.put("/experiment/spec/shots", 60000)])
	decision := data.govern.decision with input as inp
		with data.govern.custom as {}
	decision.allow
	[finding.rule | some finding in decision.warn] == ["SEC-101"]
}

test_a_rule_missing_from_the_catalogue_is_critical_and_not_waivable if {
	inp := t.eu_data_waived([t.waiver])
	decision := data.govern.decision with input as inp
		with data.govern.catalogue as {}
		with data.govern.custom as {}
	some finding in decision.deny
	finding.rule == "DC-004"
	finding.area == "unknown"
	finding.severity == "critical"
	finding.remediation == "Add the rule to the rule catalogue."
	not finding.waivable
	decision.waived == []
}

test_waiver_turns_deny_into_waived if {
	decision := data.govern.decision with input as t.eu_data_waived([t.waiver])
		with data.govern.catalogue as t.catalogue
		with data.govern.custom as {}
	decision.allow
	decision.deny == []
	[finding.rule | some finding in decision.waived] == ["DC-004"]
	decision.waived[0].waiver == {
		"id": "W-1", "approver": "compliance@example.com", "reason": "DPO sign-off",
		"expiresNs": t.now + t.day,
	}
}

test_the_first_waiver_by_id_is_recorded if {
	waivers := [object.union(t.waiver, {"id": "W-9"}), t.waiver, object.union(t.waiver, {"id": "W-5"})]
	decision := data.govern.decision with input as t.eu_data_waived(waivers)
		with data.govern.catalogue as t.catalogue
		with data.govern.custom as {}
	decision.waived[0].waiver.id == "W-1"
}

# DC-004 stays denied under this variant of the waiver.
not_waived(changes) if {
	inp := t.eu_data_waived([object.union(t.waiver, changes)])
	decision := data.govern.decision with input as inp
		with data.govern.catalogue as t.catalogue
		with data.govern.custom as {}
	"DC-004" in t.rules(decision.deny)
	decision.waived == []
}

test_expired_waiver_does_nothing if not_waived({"expiresNs": t.now})

test_unapproved_waiver_does_nothing if not_waived({"status": "requested"})

test_revoked_waiver_does_nothing if not_waived({"status": "revoked"})

test_self_approved_waiver_does_nothing if not_waived({"approver": "alice@example.com"})

test_waiver_for_another_rule_does_nothing if not_waived({"rule": "DC-003"})

test_waiver_for_another_experiment_does_nothing if {
	not_waived({"scope": {"team": "materials-rnd", "experiment": "other"}})
}

test_waiver_for_another_team_does_nothing if not_waived({"scope": {"team": "other-team", "experiment": "*"}})

test_waiver_scoped_to_another_sandbox_does_nothing if {
	not_waived({"scope": {"team": "materials-rnd", "experiment": "*", "sandbox": "SBX-9"}})
}

test_waiver_of_a_rule_that_is_not_waivable_does_nothing if {
	catalogue := json.patch(t.catalogue, [t.put("/DC-004/waivable", false)])
	decision := data.govern.decision with input as t.eu_data_waived([t.waiver])
		with data.govern.catalogue as catalogue
		with data.govern.custom as {}
	"DC-004" in t.rules(decision.deny)
	decision.waived == []
}

test_wildcard_waiver_applies if {
	waiver := object.union(t.waiver, {"scope": {"team": "materials-rnd", "experiment": "*", "sandbox": "*"}})
	decision := data.govern.decision with input as t.eu_data_waived([waiver])
		with data.govern.catalogue as t.catalogue
		with data.govern.custom as {}
	"DC-004" in t.rules(decision.waived)
}

test_waiver_scoped_to_the_sandbox_applies if {
	waiver := object.union(t.waiver, {"scope": {"team": "materials-rnd", "experiment": "*", "sandbox": "SBX-1"}})
	decision := data.govern.decision with input as t.eu_data_waived([waiver])
		with data.govern.catalogue as t.catalogue
		with data.govern.custom as {}
	decision.allow
}

test_waiver_without_a_requester_applies if {
	waiver := object.remove(t.waiver, ["requestedBy"])
	decision := data.govern.decision with input as t.eu_data_waived([waiver])
		with data.govern.catalogue as t.catalogue
		with data.govern.custom as {}
	decision.allow
}

test_a_finding_of_ours_without_rule_or_message_still_denies if {
	decision := data.govern.decision with input as t.paid
		with data.govern.security.deny as {{"resource": "spec"}}
		with data.govern.custom as {}
	decision.deny == [{
		"rule": "unknown",
		"message": "a rule reported a finding without a message",
		"resource": "spec",
		"evidence": {},
		"area": "unknown",
		"severity": "critical",
		"remediation": "Add the rule to the rule catalogue.",
		"waivable": false,
	}]
}

# Team policies, mocked with `with data.govern.custom as {…}` (the whole tree, so that team policies
# loaded beside the bundle do not join these decisions).

test_a_team_string_finding_denies_under_its_package_name if {
	team := {"deny": {"GPU runs need a booking"}}
	decision := data.govern.decision with input as t.paid
		with data.govern.custom as {"materials_rnd": team}
		with data.govern.catalogue as t.catalogue
	decision.deny == [{
		"rule": "materials_rnd",
		"message": "GPU runs need a booking",
		"resource": "",
		"evidence": {},
		"area": "custom",
		"severity": "high",
		"remediation": "See the team policy that reported it.",
		"waivable": true,
	}]
}

test_a_team_object_finding_is_enriched_from_the_catalogue if {
	finding := {"rule": "MAT-001", "message": "book the GPU", "resource": "spec.backend", "evidence": {"gpu": 1}}
	team := {"deny": {finding}}
	decision := data.govern.decision with input as t.paid
		with data.govern.custom as {"materials_rnd": team}
		with data.govern.catalogue as t.catalogue
	decision.deny == [{
		"rule": "MAT-001",
		"message": "book the GPU",
		"resource": "spec.backend",
		"evidence": {"gpu": 1},
		"area": "materials_rnd",
		"severity": "medium",
		"remediation": "Book the GPU cluster.",
		"waivable": false,
	}]
}

test_a_nested_team_package_names_its_string_findings_by_path if {
	team := {"gpu": {"deny": ["no GPU on Fridays"]}, "warn": {"check the queue"}}
	decision := data.govern.decision with input as t.paid
		with data.govern.custom as {"materials_rnd": team}
	[[finding.rule, finding.message] | some finding in decision.deny] == [["materials_rnd.gpu", "no GPU on Fridays"]]
	[[finding.rule, finding.message] | some finding in decision.warn] == [["materials_rnd", "check the queue"]]
}

test_team_warnings_do_not_deny if {
	team := {"warn": {{"rule": "MAT-101", "message": "the GPU queue is long"}}}
	decision := data.govern.decision with input as t.paid
		with data.govern.custom as {"materials_rnd": team}
		with data.govern.catalogue as t.catalogue
	decision.allow
	decision.warn[0].severity == "high"
}

test_a_team_finding_can_be_waived if {
	team := {"deny": {{"rule": "MAT-002", "message": "book the GPU"}}}
	waiver := object.union(t.waiver, {"rule": "MAT-002"})
	inp := json.patch(t.paid, [t.put("/context/waivers", [waiver])])
	decision := data.govern.decision with input as inp
		with data.govern.custom as {"materials_rnd": team}
		with data.govern.catalogue as t.catalogue
	decision.allow
	"MAT-002" in t.rules(decision.waived)
}

test_gov_finding_deny_a_number if {
	decision := data.govern.decision with input as t.paid
		with data.govern.custom as {"materials_rnd": {"deny": {42}}}
	not decision.allow
	[finding] := decision.deny
	finding.rule == "GOV-FINDING"
	finding.message == concat(" ", [
		"team policy govern.custom.materials_rnd reported a deny finding govern cannot read (number): a finding",
		"is a message string or an object with a string rule and message; the submission is denied",
	])
	finding.resource == ""
	finding.evidence == {"package": "govern.custom.materials_rnd", "kind": "deny", "type": "number"}
	finding.severity == "critical"
	not finding.waivable
}

test_gov_finding_deny_malformed_objects if {
	every finding in [
		{"message": "no rule"},
		{"rule": "MAT-1"},
		{"rule": 7, "message": "m"},
		{"rule": "", "message": "m"},
		{"rule": "MAT-1", "message": "m", "resource": 3},
		{"rule": "MAT-1", "message": "m", "evidence": "e"},
	] {
		decision := data.govern.decision with input as t.paid
			with data.govern.custom as {"materials_rnd": {"deny": {finding}}}
		t.rules(decision.deny) == {"GOV-FINDING"}
	}
}

test_gov_finding_deny_a_malformed_warning if {
	team := {"gpu": {"warn": {{"rule": "MAT-101"}}}}
	decision := data.govern.decision with input as t.paid
		with data.govern.custom as {"materials_rnd": team}
	not decision.allow
	decision.deny[0].evidence == {"package": "govern.custom.materials_rnd.gpu", "kind": "warn", "type": "object"}
	decision.warn == []
}

test_gov_finding_deny_a_rule_that_is_not_a_collection if {
	decision := data.govern.decision with input as t.paid
		with data.govern.custom as {"materials_rnd": {"deny": true}}
	decision.deny[0].evidence.type == "boolean"
}

test_gov_finding_deny_not_waivable if {
	waiver := object.union(t.waiver, {"rule": "GOV-FINDING"})
	inp := json.patch(t.paid, [t.put("/context/waivers", [waiver])])
	decision := data.govern.decision with input as inp
		with data.govern.custom as {"materials_rnd": {"deny": {null}}}
	"GOV-FINDING" in t.rules(decision.deny)
	decision.waived == []
}

test_gov_finding_allow_readable_team_findings if {
	team := {"deny": {"a string", {"rule": "MAT-1", "message": "m", "resource": "spec", "evidence": {}}}}
	decision := data.govern.decision with input as t.paid
		with data.govern.custom as {"materials_rnd": team}
	not "GOV-FINDING" in t.rules(decision.deny)
	count(decision.deny) == 2
}

test_gov_finding_allow_no_team_policies if {
	decision := data.govern.decision with input as t.paid
		with data.govern.custom as {}
	not "GOV-FINDING" in t.rules(decision.deny)
}

test_every_rule_in_the_catalogue_has_remediation if {
	every entry in data.govern.rule_catalogue {
		entry.remediation != ""
		entry.kind in {"deny", "warn"}
		entry.severity in {"critical", "high", "medium", "low"}
	}
}
