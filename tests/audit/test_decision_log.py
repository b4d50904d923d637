"""The decision log: append-only and verifiable, on SQLite and PostgreSQL, under concurrent writers."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import text

from govern.audit.log import append, verify
from govern.db.database import create_db_engine, session_scope, upgrade

pytestmark = pytest.mark.slow


def fill(engine, engine_under_test, example_inputs, count=6):
    for index in range(count):
        _, policy_input = example_inputs[index % len(example_inputs)]
        decision = engine_under_test.evaluate(policy_input)
        with session_scope(engine) as session:
            append(session, decision, policy_input, actor=f"token-{index}", kind="check")


def test_a_clean_log_verifies(database_url, engine, example_inputs):
    db = create_db_engine(database_url)
    upgrade(db)
    fill(db, engine, example_inputs)
    with session_scope(db) as session:
        result = verify(session)
    assert result.ok and result.records == 6 and len(result.head_hash) == 64
    db.dispose()


def test_no_secret_reaches_the_log(database_url, engine, example_inputs):
    db = create_db_engine(database_url)
    upgrade(db)
    path, policy_input = next((p, i) for p, i in example_inputs if p.stem == "secret-in-manifest")
    with session_scope(db) as session:
        append(session, engine.evaluate(policy_input), policy_input, actor="t", kind="check")
    with db.connect() as connection:
        (record,) = connection.execute(text("SELECT record FROM decision_log")).one()
    assert "c2VjcmV0LXRva2VuLWRvLW5vdC1jb21taXQtOTk4ODc3" not in record
    assert "[REDACTED:high_entropy_token]" in record
    db.dispose()


def tamper_and_verify(database_url, engine, example_inputs, statement):
    db = create_db_engine(database_url)
    upgrade(db)
    fill(db, engine, example_inputs)
    with db.begin() as connection:
        connection.exec_driver_sql(statement)
    with session_scope(db) as session:
        result = verify(session)
    db.dispose()
    return result


def test_an_edited_record_is_named(database_url, engine, example_inputs):
    result = tamper_and_verify(database_url, engine, example_inputs, "UPDATE decision_log SET record = replace(record, '\"allow\":true', '\"allow\":false') WHERE seq = 4")
    assert not result.ok and result.bad_seq == 4 and "edited" in result.problem


def test_an_edited_column_is_named(database_url, engine, example_inputs):
    result = tamper_and_verify(database_url, engine, example_inputs, "UPDATE decision_log SET outcome = 'tampered' WHERE seq = 3")
    assert not result.ok and result.bad_seq == 3 and "outcome" in result.problem


def test_a_deleted_record_is_named(database_url, engine, example_inputs):
    result = tamper_and_verify(database_url, engine, example_inputs, "DELETE FROM decision_log WHERE seq = 2")
    assert not result.ok and result.bad_seq == 3 and "record 2 is missing" in result.problem


def test_reordered_records_are_found(database_url, engine, example_inputs):
    db = create_db_engine(database_url)
    upgrade(db)
    fill(db, engine, example_inputs)
    with db.begin() as connection:
        connection.execute(text("UPDATE decision_log SET seq = 100 WHERE seq = 2"))
        connection.execute(text("UPDATE decision_log SET seq = 2 WHERE seq = 3"))
        connection.execute(text("UPDATE decision_log SET seq = 3 WHERE seq = 100"))
    with session_scope(db) as session:
        result = verify(session)
    assert not result.ok and result.bad_seq == 2
    db.dispose()


def test_concurrent_appends_keep_one_chain(database_url, engine, example_inputs):
    db = create_db_engine(database_url)
    upgrade(db)
    _, policy_input = example_inputs[0]
    errors = []

    def writer():
        try:
            for _ in range(5):
                with session_scope(db) as session:
                    append(session, engine.evaluate(policy_input), policy_input, actor="w", kind="check")
        except Exception as exc:  # collected and asserted below
            errors.append(exc)

    threads = [threading.Thread(target=writer) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    with session_scope(db) as session:
        result = verify(session)
    assert result.ok and result.records == 20
    db.dispose()


def test_signed_checkpoints_anchor_the_log(cli, database_url, engine, example_inputs, monkeypatch, tmp_path):
    db = create_db_engine(database_url)
    upgrade(db)
    fill(db, engine, example_inputs, count=3)
    monkeypatch.setenv("GOVERN_DATABASE_URL", database_url)
    assert cli("audit", "checkpoint").exit_code == 2  # no key configured
    key = tmp_path / "audit.pem"
    assert cli("audit", "keygen", str(key)).exit_code == 0
    assert oct(key.stat().st_mode & 0o777) == "0o600"
    public = tmp_path / "audit.pem.pub"
    assert public.read_text().startswith("-----BEGIN PUBLIC KEY-----")
    assert cli("audit", "keygen", str(key)).exit_code == 2
    monkeypatch.setenv("GOVERN_AUDIT_SIGNING_KEY", str(key))
    checkpoint = tmp_path / "head.json"
    assert cli("audit", "checkpoint", "--out", str(checkpoint)).exit_code == 0
    fill(db, engine, example_inputs, count=2)
    assert cli("audit", "verify", "--checkpoint", str(checkpoint)).exit_code == 2  # the public key is needed
    verified = cli("audit", "verify", "--checkpoint", str(checkpoint), "--public-key", str(public))
    assert verified.exit_code == 0 and "2 records appended since the checkpoint" in verified.output

    forged = checkpoint.read_text().replace("\n3\n", "\n2\n", 1)  # the signed note's tree size
    (tmp_path / "forged.json").write_text(forged)
    result = cli("audit", "verify", "--checkpoint", str(tmp_path / "forged.json"), "--public-key", str(public))
    assert result.exit_code == 1 and "signature" in result.output

    with db.begin() as connection:  # rewrite the whole chain consistently: only the checkpoint can tell
        connection.exec_driver_sql("DELETE FROM decision_log")
    fill(db, engine, example_inputs, count=5)
    assert cli("audit", "verify").exit_code == 0
    result = cli("audit", "verify", "--checkpoint", str(checkpoint), "--public-key", str(public))
    assert result.exit_code == 1 and "record 3" in result.output and "rewritten" in result.output
    db.dispose()


def test_policy_input_of_restores_the_integers_a_record_carries_as_strings() -> None:
    from govern.audit.record_format import EXACT_INTEGERS_KEY, policy_input_of

    content = {
        "input": {"now_ns": "1790000000000000000000", "context": {"sandboxes": [{"endNs": "9007199254740993"}]}, "n": "7"},
        EXACT_INTEGERS_KEY: ["/input/now_ns", "/input/context/sandboxes/0/endNs"],
    }
    assert policy_input_of(content) == {
        "now_ns": 1790000000000000000000, "context": {"sandboxes": [{"endNs": 9007199254740993}]}, "n": "7",
    }
    assert content["input"]["now_ns"] == "1790000000000000000000"  # the record itself is left as it was
    assert policy_input_of({"input": {"now_ns": 5}}) == {"now_ns": 5}
