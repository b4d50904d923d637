"""Secrets are found wherever they are in a manifest or a circuit, and redacted before the engine, the decision,
the decision log, jobs or lineage can see them; ordinary text is left alone."""

from __future__ import annotations

import json
import re
from decimal import Decimal

import pytest

from govern.circuit import CircuitLimits, profile_qasm
from govern.dispatch.jobs import new_job
from govern.manifest.documents import Document
from govern.manifest.schema import Experiment
from govern.secrets import marker, redacted, redacted_circuit, scan
from govern.submission import submission_from_request
from tests.conftest import EXAMPLES
from tests.secret_corpus import negatives, positives

AWS = "AKIAIOSFODNN7EXAMPLE"
TOKEN = "c2VjcmV0LXRva2VuLWRvLW5vdC1jb21taXQtOTk4ODc3"
FAKES = positives()
CIRCUIT = "OPENQASM 3.0;\ninclude \"stdgates.inc\";\nqubit[2] q;\nh q[0];\ncx q[0], q[1];\n"


def positions(text: str) -> list[tuple[str, dict]]:
    """(where, document) with the text in each manifest position a secret can take."""
    return [
        ("label value", {"metadata": {"labels": {"note": text}}}),
        ("label key", {"metadata": {"labels": {text: "x"}}}),
        ("annotation", {"metadata": {"annotations": {"govern.dev/note": f"see {text}"}}}),
        ("purpose", {"spec": {"purpose": f"H2 sweep; {text} (do not share)"}}),
        ("hyperparameter", {"spec": {"hyperparameters": {"optimizer": "COBYLA", "warmStart": text}}}),
        ("nested list", {"spec": {"hyperparameters": {"stages": [{"notes": ["fine", text]}]}}}),
        ("dataset", {"spec": {"datasets": [{"namespace": "s3://rnd-data", "name": text}]}}),
    ]


def circuits(text: str) -> list[tuple[str, str]]:
    """(where, circuit) with the text in each free-text position of OpenQASM."""
    found = [("block comment", f"/* {text} */\n{CIRCUIT}"), ("block comment inside", CIRCUIT.replace("h q[0];", f"h q[0]; /*\n{text}\n*/"))]
    if "\n" not in text:
        found.append(("line comment", CIRCUIT.replace("qubit[2] q;", f"qubit[2] q;  // {text}")))
    if "\n" not in text and '"' not in text:
        found.append(("string literal", CIRCUIT.replace("h q[0];", f'pragma "{text}";\nh q[0];')))
    return found


@pytest.mark.parametrize("fake", FAKES, ids=[f"{f.kind}-{i}" for i, f in enumerate(FAKES)])
def test_every_fake_secret_is_found_and_redacted_in_every_position(fake):
    for where, document in positions(fake.text):
        clean, findings = redacted(document)
        assert fake.kind in {f.kind for f in findings}, where
        shown = json.dumps([clean, [f.as_input() for f in findings]])
        assert not [part for part in fake.secrets if part in shown], where
        assert marker(fake.kind) in shown, where
    for where, circuit in circuits(fake.text):
        clean, findings = redacted_circuit(circuit, "spec.circuit.path")
        assert fake.kind in {f.kind for f in findings}, where
        assert not [part for part in fake.secrets if part in clean + repr(findings)], where


@pytest.mark.parametrize("text", negatives())
def test_ordinary_text_is_never_a_secret(text):
    for where, document in positions(text):
        assert scan(document) == [], where
    for where, circuit in circuits(text):
        assert redacted_circuit(circuit, "spec.circuit.path") == (circuit, []), where


def test_the_examples_hold_no_secret_but_the_one_denied_for_it(example_inputs):
    found = {path.stem: policy_input["secrets"] for path, policy_input in example_inputs if policy_input["secrets"]}
    assert list(found) == ["secret-in-manifest"]
    for qasm in (EXAMPLES / "circuits").glob("*.qasm"):
        assert redacted_circuit(qasm.read_text(), "spec.circuit.path")[1] == []


@pytest.mark.parametrize(
    ("document", "field", "kind"),
    [
        ({"spec": {"credentials": {"token": TOKEN}}}, "spec.credentials.token", "high_entropy_token"),
        ({"spec": {"hyperparameters": {"apiKey": TOKEN}}}, "spec.hyperparameters.apiKey", "ibm_cloud_api_key"),
        ({"spec": {"purpose": f"uses {AWS} for S3"}}, "spec.purpose", "aws_access_key_id"),
        ({"spec": {"notes": ["-----BEGIN RSA PRIVATE KEY-----\nMIIE"]}}, "spec.notes[0]", "pem_private_key"),
        ({"spec": {"source": {"url": "https://bob:hunter2@git.example.com/r.git"}}}, "spec.source.url", "url_password"),
        ({"metadata": {"labels": {"x": "ghp_" + "a1B2" * 9}}}, "metadata.labels.x", "github_token"),
        ({"spec": {"hyperparameters": {"note": "gov_" + "Zx9-" * 11}}}, "spec.hyperparameters.note", "govern_token"),
        ({"spec": {"hyperparameters": {"awsSecretAccessKey": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"}}},
         "spec.hyperparameters.awsSecretAccessKey", "aws_secret_access_key"),
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


def test_redaction_replaces_the_secret_and_nothing_else():
    github = "ghp_" + "a1B2" * 9
    document = {
        "spec": {"credentials": {"token": TOKEN, "other": "env:X"}, "purpose": f"uses {AWS} for S3", "notes": ["fine"]},
        "metadata": {"labels": {github: {"nested": "value"}}},
    }
    clean, findings = redacted(document)
    assert clean == {
        "spec": {"credentials": {"token": marker("high_entropy_token"), "other": "env:X"},
                 "purpose": f"uses {marker('aws_access_key_id')} for S3", "notes": ["fine"]},
        "metadata": {"labels": {marker("github_token"): {"nested": "value"}}},
    }
    assert {f.field for f in findings} == {"spec.credentials.token", "spec.purpose", f"metadata.labels.{marker('github_token')}"}
    assert document["spec"]["credentials"]["token"] == TOKEN
    assert redacted(clean) == (clean, [])


def test_a_url_keeps_all_but_its_credentials():
    clean, _ = redacted({"spec": {"source": {"url": "https://bob:hunter2@git.example.com/r.git"}}})
    assert clean["spec"]["source"]["url"] == "https://REDACTED@git.example.com/r.git"


def test_many_secrets_cost_time_in_proportion():
    """Thousands of secrets, in keys and values, redact in one pass (a safety bound, not a benchmark)."""
    import random
    import time

    rng = random.Random(3)
    keys = ["AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16)) for _ in range(4000)]
    document = {"spec": {"hyperparameters": {f"run{i}": {key: f"note ghp_{key}{i:016d}"} for i, key in enumerate(keys)}}}
    started = time.monotonic()
    clean, findings = redacted(document)
    assert time.monotonic() - started < 5
    assert len(findings) == 8000
    assert re.search(r"AKIA[A-Z2-7]{16}", json.dumps([clean, [f.field for f in findings]])) is None


def test_a_circuit_keeps_its_code_and_reports_line_and_column():
    github = "ghp_" + "Zq9x" * 9
    circuit = CIRCUIT.replace("qubit[2] q;", f"qubit[2] q;  // token {github}")
    clean, (finding,) = redacted_circuit(circuit, "spec.circuit.qasm")
    assert (finding.field, finding.kind, finding.line, finding.column) == ("spec.circuit.qasm:3:23", "github_token", 3, 23)
    assert github not in clean and marker("github_token") in clean
    original, kept = profile_qasm(circuit, "c", CircuitLimits()), profile_qasm(clean, "c", CircuitLimits())
    assert original.model_dump(exclude={"sha256"}) == kept.model_dump(exclude={"sha256"})


def test_a_secret_in_the_circuit_denies_with_its_line_and_column(engine, example_context, examples_now):
    from govern.check.checker import Checker

    manifest = _manifest()
    github = "ghp_" + "Zq9x" * 9
    submission = submission_from_request(Document("m.yaml", 0, manifest, {}), f"// pushed with {github}\n{CIRCUIT}", 1_000_000)
    assert github not in submission.circuit_text
    checker = Checker(engine, example_context, now=examples_now)
    policy_input = checker.policy_input(submission, checker.profile(submission))
    assert github not in json.dumps(policy_input)
    decision = engine.evaluate(policy_input)
    (deny,) = [f for f in decision.deny if f.rule == "SEC-001"]
    assert deny.resource == "spec.circuit.path:1:16" and deny.evidence["kind"] == "github_token"


def test_a_literal_credential_never_reaches_a_job():
    manifest = _manifest()
    manifest["spec"]["credentials"] = {"token": TOKEN, "region": "env:IBM_REGION"}
    job = new_job(submission_id="s", run_id="r", experiment=Experiment.model_validate(manifest), qasm=CIRCUIT,
                  bundle_data={}, estimated_cost=Decimal(0), currency="USD", decided_price_model={})
    assert job.credentials == {"token": marker("high_entropy_token"), "region": "env:IBM_REGION"}


def test_the_request_hash_is_taken_over_the_redacted_request():
    from govern.admission.transaction import request_hash

    manifest = _manifest()
    manifest["spec"]["purpose"] = f"weak password in https://bob:hunter2@git.example.com/r.git {AWS}"
    circuit = f"// {AWS}\n{CIRCUIT}"
    assert request_hash(manifest, circuit) == request_hash(redacted(manifest)[0], redacted_circuit(circuit, "circuit")[0])
    assert request_hash(manifest, circuit) != request_hash(_manifest(), CIRCUIT)


def test_no_secret_reaches_the_policy_input_or_the_decision(engine, example_inputs):
    _, policy_input = next((p, i) for p, i in example_inputs if p.stem == "secret-in-manifest")
    serialized = json.dumps(policy_input)
    assert TOKEN not in serialized
    assert policy_input["secrets"][0]["field"] == "spec.credentials.token"
    decision = engine.evaluate(policy_input)
    assert {"SEC-001", "SEC-002"} <= set(decision.rule_ids)
    assert TOKEN not in decision.model_dump_json()


def _manifest() -> dict:
    from tests.api.test_api import example

    manifest, _ = example("vqe-h2-ibm")
    return json.loads(json.dumps(manifest))


def _with_secret(text: str) -> tuple[dict, str, dict[str, str]]:
    """The allowed VQE example with the text in every manifest position and a comment of its circuit; and the
    field each finding must name (the circuit's by its line; the label key's field holds its marker)."""
    from tests.api.test_api import example

    manifest, circuit = example("vqe-h2-ibm")
    manifest = json.loads(json.dumps(manifest))
    metadata, spec = manifest["metadata"], manifest["spec"]
    metadata["labels"].update({"note": text, text: "x"})
    metadata["annotations"]["govern.dev/note"] = f"see {text}"
    spec["purpose"] = f"H2 sweep; {text}"
    spec["hyperparameters"]["stages"] = [{"notes": ["fine", text]}]
    fields = {"metadata.labels.note": "label value", "metadata.annotations.govern.dev/note": "annotation",
              "spec.purpose": "purpose", "spec.hyperparameters.stages[0].notes[1]": "nested list",
              "spec.circuit.path:1:": "block comment"}
    if len(text) <= 200:
        spec["datasets"][0]["name"] = spec["sandbox"] = text
        fields.update({"spec.datasets[0].name": "dataset", "spec.sandbox": "sandbox"})
    circuit = f"/* {text} */\n{circuit}"
    if "\n" not in text:
        circuit = circuit.replace("qubit[4] q;", f"qubit[4] q;  // {text}")
        fields[f"spec.circuit.path:{circuit.splitlines().index(f'qubit[4] q;  // {text}') + 1}:"] = "line comment"
    return manifest, circuit, fields


def _everything_stored(db) -> str:
    """Every row of every table, as text (each value whole: a Row's own repr shortens long ones)."""
    from sqlalchemy import MetaData, select

    tables = MetaData()
    tables.reflect(bind=db)
    with db.connect() as connection:
        return "\n".join(repr(tuple(row)) for table in tables.sorted_tables for row in connection.execute(select(table)))


@pytest.mark.slow
def test_no_fake_secret_reaches_any_sink_through_the_service(database_url, caplog):
    """End to end: each fake in every position is denied by SEC-001 naming the field and kind, and afterwards
    no decision record, audit export, submission, job, lineage event, response or log line holds any of it."""
    import logging

    from fastapi.testclient import TestClient

    from govern.api import create_app
    from govern.settings import Settings
    from tests.admission.test_submissions_api import funded
    from tests.api.test_api import auth, token_for

    caplog.set_level(logging.DEBUG)
    responses = []
    with TestClient(create_app(Settings(database_url=database_url, migrate_on_start=True))) as client:
        submitter = funded(client, "100.00")
        for fake in FAKES:
            manifest, circuit, fields = _with_secret(fake.text)
            for path in ("/v1/submissions", "/v1/check"):
                response = client.post(path, json={"manifest": manifest, "circuit": circuit}, headers=submitter)
                assert response.status_code == (403 if path == "/v1/submissions" else 200), (fake.kind, response.text)
                responses.append(response.text)
                found = {}
                for deny in response.json()["decision"]["deny"]:
                    if deny["rule"] == "SEC-001":
                        found.setdefault(deny["resource"], set()).add(deny["evidence"]["kind"])
                for field, where in fields.items():
                    kinds = set().union(*(k for r, k in found.items() if r == field or field.endswith(":") and r.startswith(field)))
                    assert fake.kind in kinds, (fake.kind, where, found)
                assert any(r.startswith("metadata.labels.") and marker(fake.kind) in r for r in found), (fake.kind, "label key")
        auditor = auth(token_for(client, "compliance", "audit"))
        exports = [client.get("/v1/audit/decisions", params={"format": f}, headers=auditor).text for f in ("jsonl", "csv")]
        assert exports[0].count("\n") == 2 * len(FAKES)
        stored = _everything_stored(client.app.state.db)
    assert [fake.kind for fake in FAKES if marker(fake.kind) not in stored] == []  # the records are there, redacted
    sinks = {"stored rows": stored, "audit export": "\n".join(exports), "responses": "\n".join(responses), "logs": caplog.text}
    leaks = [(fake.kind, sink) for fake in FAKES for sink, text in sinks.items() for part in fake.secrets if part in text]
    assert leaks == []
