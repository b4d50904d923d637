"""Secret values are found and redacted before the engine, the decision or any output can see them."""

from __future__ import annotations

import json

import pytest

from govern.secrets import REDACTED, redact, scan

AWS = "AKIAIOSFODNN7EXAMPLE"
TOKEN = "c2VjcmV0LXRva2VuLWRvLW5vdC1jb21taXQtOTk4ODc3"


@pytest.mark.parametrize(
    ("document", "field", "kind"),
    [
        ({"spec": {"credentials": {"token": TOKEN}}}, "spec.credentials.token", "high_entropy_token"),
        ({"spec": {"hyperparameters": {"apiKey": TOKEN}}}, "spec.hyperparameters.apiKey", "high_entropy_token"),
        ({"spec": {"purpose": f"uses {AWS} for S3"}}, "spec.purpose", "aws_access_key_id"),
        ({"spec": {"notes": ["-----BEGIN RSA PRIVATE KEY-----\nMIIE"]}}, "spec.notes[0]", "pem_private_key"),
        ({"spec": {"source": {"url": "https://bob:hunter2@git.example.com/r.git"}}}, "spec.source.url", "url_password"),
        ({"metadata": {"labels": {"x": "ghp_" + "a1B2" * 9}}}, "metadata.labels.x", "github_token"),
        ({"spec": {"hyperparameters": {"note": "gov_" + "Zx9-" * 11}}}, "spec.hyperparameters.note", "govern_token"),
    ],
)
def test_secrets_are_found_by_field_and_kind(document, field, kind):
    (finding,) = scan(document)
    assert (finding.field, finding.kind) == (field, kind)


@pytest.mark.parametrize(
    "document",
    [
        {"spec": {"credentials": {"token": "env:IBM_QUANTUM_TOKEN", "aws": "vault:secret/quantum/braket#key"}}},
        {"spec": {"purpose": "H2 binding energy, hardware-efficient ansatz with a long description of it"}},
        {"spec": {"hyperparameters": {"optimizer": "COBYLA", "key": "short"}}},
        {"spec": {"datasets": [{"namespace": "s3://rnd-data", "name": "molecules/h2-aaaaaaaaaaaaaaaaaaaaaa"}]}},
    ],
)
def test_references_and_ordinary_values_are_not_secrets(document):
    assert scan(document) == []


def test_redaction_replaces_only_the_named_values():
    document = {"spec": {"credentials": {"token": TOKEN, "other": "env:X"}, "notes": [AWS, "fine"]}}
    redacted = redact(document, {f.field for f in scan(document)})
    assert redacted == {"spec": {"credentials": {"token": REDACTED, "other": "env:X"}, "notes": [REDACTED, "fine"]}}
    assert document["spec"]["credentials"]["token"] == TOKEN


def test_no_secret_reaches_the_policy_input_or_the_decision(engine, example_inputs):
    path, policy_input = next((p, i) for p, i in example_inputs if p.stem == "secret-in-manifest")
    serialized = json.dumps(policy_input)
    assert TOKEN not in serialized
    assert policy_input["secrets"][0]["field"] == "spec.credentials.token"
    decision = engine.evaluate(policy_input)
    assert {"SEC-001", "SEC-002"} <= set(decision.rule_ids)
    assert TOKEN not in decision.model_dump_json()
