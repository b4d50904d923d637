"""The tamper matrix: every way someone with write access to the database (but not the signing key) could
change the decision log is caught, by the chain alone or with a checkpoint, on SQLite and PostgreSQL, and the
message names the record and the problem."""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import timedelta

import pytest
import rfc8785
from sqlalchemy import delete, select, update

from govern.audit.log import Entry, Pin, _record, append, verify
from govern.audit.record_format import (
    CURRENT_FORMAT,
    HASHED_COLUMNS,
    fields,
    policy_input_of,
    record_text,
    restored_content,
    row_hash,
)
from govern.canonical import canonical_json
from govern.db.database import create_db_engine, session_scope, upgrade
from govern.db.tables import DecisionRecord

TABLE = DecisionRecord.__table__
COLUMNS = [column.name for column in TABLE.columns]


def fill(db, engine, example_inputs, count, start=0):
    for index in range(start, start + count):
        _, policy_input = example_inputs[index % len(example_inputs)]
        with session_scope(db) as session:
            append(session, engine.evaluate(policy_input), policy_input, actor=f"token-{index}", kind="check")


@pytest.fixture
def log(database_url, engine, example_inputs):
    """A log of five records in the current format."""
    db = create_db_engine(database_url)
    upgrade(db)
    fill(db, engine, example_inputs, 5)
    yield db
    db.dispose()


def verified(db, *pins: Pin):
    with session_scope(db) as session:
        return verify(session, pins)


def head(db, seq: int) -> Pin:
    """What a checkpoint taken when the log had `seq` records pins."""
    with db.connect() as connection:
        return Pin(seq, connection.execute(select(TABLE.c.hash).where(TABLE.c.seq == seq)).scalar_one(), "checkpoint cp.json")


def rehash_from(db, seq: int, keep_prev: bool = False) -> None:
    """Recompute every hash from `seq` to the head by the rules of each record's format, as an attacker who
    knows the algorithm would: the chain then verifies on its own (or from record `seq`'s own previous hash)."""
    with db.begin() as connection:
        column = TABLE.c.prev_hash if keep_prev else TABLE.c.hash
        prev = connection.execute(select(column).where(TABLE.c.seq == (seq if keep_prev else seq - 1))).scalar() or "0" * 64
        for row in connection.execute(select(TABLE).where(TABLE.c.seq >= seq).order_by(TABLE.c.seq)).all():
            values = {**fields(row, HASHED_COLUMNS), "prev_hash": prev}
            prev = row_hash(values)
            connection.execute(update(TABLE).where(TABLE.c.seq == row.seq).values(prev_hash=values["prev_hash"], hash=prev))


def edited(name: str, value):
    if name == "seq":
        return 100
    if name == "format":
        return 1
    if name == "recorded_at":
        return value + timedelta(seconds=1)
    if name == "record":
        return record_text({**json.loads(value), "note": "edited"}, CURRENT_FORMAT)
    return value[:-1] + ("0" if value[-1] != "0" else "1")


EXPECTED = {
    "seq": "record 3 is missing",
    "prev_hash": "record 3 does not follow record 2",
    "format": "record 3 was relabelled",
    "record": "record 3 was edited: its columns no longer match its hash",
    "hash": "record 3 was edited: its columns no longer match its hash",
}


def test_every_column_is_inside_the_hash():
    """A new column must join a new record format: until it does, it could be edited unseen."""
    assert CURRENT_FORMAT == 3
    assert sorted(HASHED_COLUMNS) == sorted(set(COLUMNS) - {"hash"})


@pytest.mark.slow
@pytest.mark.parametrize("column", COLUMNS)
def test_an_edited_column_is_caught(log, column):
    with log.begin() as connection:
        value = connection.execute(select(TABLE.c[column]).where(TABLE.c.seq == 3)).scalar_one()
        connection.execute(update(TABLE).where(TABLE.c.seq == 3).values({column: edited(column, value)}))
    result = verified(log)
    assert not result.ok and result.records == 2
    assert EXPECTED.get(column, f"record 3 was edited: column {column} differs") in result.problem


@pytest.mark.slow
@pytest.mark.parametrize(("seq", "expected"), [(1, "record 1 is missing"), (3, "record 3 is missing")])
def test_a_deleted_first_or_middle_record_is_caught(log, seq, expected):
    with log.begin() as connection:
        connection.execute(delete(TABLE).where(TABLE.c.seq == seq))
    result = verified(log)
    assert not result.ok and expected in result.problem


@pytest.mark.slow
def test_a_deleted_last_record_and_a_truncation_are_caught_by_the_checkpoint(log):
    pin = head(log, 5)
    with log.begin() as connection:
        connection.execute(delete(TABLE).where(TABLE.c.seq == 5))
    assert verified(log).ok  # the chain alone cannot tell a shorter log from a complete one
    result = verified(log, pin)
    assert not result.ok and result.bad_seq == 5
    assert "the log ends at record 4, checkpoint cp.json has 5: it was truncated (record 5 removed)" in result.problem
    with log.begin() as connection:
        connection.execute(delete(TABLE).where(TABLE.c.seq >= 3))
    assert "truncated (records 3 to 5 removed)" in verified(log, pin).problem


@pytest.mark.slow
def test_swapped_records_are_caught(log):
    with log.begin() as connection:
        connection.execute(update(TABLE).where(TABLE.c.seq == 2).values(seq=100))
        connection.execute(update(TABLE).where(TABLE.c.seq == 3).values(seq=2))
        connection.execute(update(TABLE).where(TABLE.c.seq == 100).values(seq=3))
    result = verified(log)
    assert not result.ok and "record 2 does not follow record 1" in result.problem


@pytest.mark.slow
def test_a_consistent_rehash_up_to_the_head_is_caught_by_the_checkpoint(log):
    pin = head(log, 5)
    with log.begin() as connection:
        connection.execute(update(TABLE).where(TABLE.c.seq == 2).values(team="someone-else"))
    assert "record 2 was edited: column team" in verified(log).problem
    with log.begin() as connection:  # the content too, so the columns agree with it
        record = connection.execute(select(TABLE.c.record).where(TABLE.c.seq == 2)).scalar_one()
        content = json.loads(record)
        content["input"]["experiment"]["metadata"]["team"] = "someone-else"
        connection.execute(update(TABLE).where(TABLE.c.seq == 2).values(record=canonical_json(content).decode()))
    rehash_from(log, 2)
    assert verified(log).ok  # without the key's signature nothing outside the database pins the head
    result = verified(log, pin)
    assert not result.ok and "record 5 differs from checkpoint cp.json: the log was rewritten" in result.problem


@pytest.mark.slow
def test_a_record_past_the_checkpoint_must_chain_to_it(log):
    pin = head(log, 3)
    with log.begin() as connection:
        connection.execute(update(TABLE).where(TABLE.c.seq == 4).values(prev_hash="f" * 64))
    rehash_from(log, 4, keep_prev=True)  # its own hash made to fit: still it does not follow the checkpoint's head
    result = verified(log, pin)
    assert not result.ok and "record 4 does not follow record 3" in result.problem


@pytest.mark.slow
def test_a_relabelled_and_rehashed_record_is_caught_without_a_checkpoint(log):
    with log.begin() as connection:
        row = connection.execute(select(TABLE).where(TABLE.c.seq == 3)).one()
        values = {**fields(row, HASHED_COLUMNS), "format": 1}
        connection.execute(update(TABLE).where(TABLE.c.seq == 3).values(format=1, hash=row_hash(values)))
    rehash_from(log, 4)
    result = verified(log)
    assert not result.ok and "record 3 was relabelled: format 1 after a format-3 record" in result.problem


def _write_as(db, version: int, entries, prev: str) -> str:
    """Append records as govern wrote them in an earlier format (1: before migration 0011, 2: before format 3)."""
    for seq, entry in entries:
        row = _record(entry, seq, prev)
        row.record = canonical_json(restored_content(json.loads(row.record))).decode()
        values = {**row.model_dump(), "format": version}
        values["hash"] = prev = row_hash(fields(DecisionRecord(**values), HASHED_COLUMNS))
        if version == 1:
            del values["format"]
        with db.begin() as connection:
            connection.execute(TABLE.insert().values(values))
    return prev


@pytest.mark.slow
def test_records_written_in_earlier_formats_still_verify_and_their_columns_are_checked(database_url, engine, example_inputs):
    db = create_db_engine(database_url)
    upgrade(db, "0009")

    def entries(start, inputs):
        return [(seq, Entry(engine.evaluate(i), i, "legacy", "check")) for seq, (_, i) in enumerate(inputs, start=start)]

    prev = _write_as(db, 1, entries(1, example_inputs[:3]), "0" * 64)  # names no format column: 0009 has none
    upgrade(db)
    _write_as(db, 2, entries(4, example_inputs[3:5]), prev)
    fill(db, engine, example_inputs, 2)
    with db.connect() as connection:
        assert connection.execute(select(TABLE.c.format).order_by(TABLE.c.seq)).scalars().all() == [1, 1, 1, 2, 2, 3, 3]
    assert verified(db).ok and verified(db).records == 7
    for column, value in (("team", "someone-else"), ("recorded_at", None)):
        with db.begin() as connection:
            old = connection.execute(select(TABLE.c[column]).where(TABLE.c.seq == 2)).scalar_one()
            connection.execute(update(TABLE).where(TABLE.c.seq == 2).values({column: value or old + timedelta(hours=1)}))
        assert f"record 2 was edited: column {column} differs from the hashed record" in verified(db).problem
        with db.begin() as connection:
            connection.execute(update(TABLE).where(TABLE.c.seq == 2).values({column: old}))
    for seq, relabel, message in ((4, 1, "it is a format-2 record marked format 1"), (6, 2, "it is a format-3 record marked format 2")):
        with db.begin() as connection:
            connection.execute(update(TABLE).where(TABLE.c.seq == seq).values(format=relabel))
        assert f"record {seq} was relabelled: {message}" in verified(db).problem
        with db.begin() as connection:
            connection.execute(update(TABLE).where(TABLE.c.seq == seq).values(format=relabel + 1))
    db.dispose()


def test_format_3_carries_big_integers_as_strings_and_restores_them(engine, example_inputs):
    """JCS (RFC 8785) admits only integers JSON carries exactly; the epoch nanoseconds travel as strings, listed."""
    _, policy_input = example_inputs[0]
    row = _record(Entry(engine.evaluate(policy_input), policy_input, "token-1", "check"), 1, "0" * 64)
    content = json.loads(row.record)
    assert row.record == rfc8785.dumps(content).decode()
    assert "/input/now_ns" in content["integers_as_strings"] and content["input"]["now_ns"] == str(policy_input["now_ns"])
    assert policy_input_of(content) == policy_input
    assert row_hash(fields(row, HASHED_COLUMNS)) == hashlib.sha256(
        b"govern decision record, format 3\n" + rfc8785.dumps({c: fields(row, HASHED_COLUMNS)[c] for c in HASHED_COLUMNS})
    ).hexdigest()


@pytest.fixture
def signed(cli, log, monkeypatch, tmp_path, database_url):
    """The log with a key pair; returns a function that signs a checkpoint of the log as it is now."""
    monkeypatch.setenv("GOVERN_DATABASE_URL", database_url)
    key = tmp_path / "audit.pem"
    assert cli("audit", "keygen", key).exit_code == 0
    monkeypatch.setenv("GOVERN_AUDIT_SIGNING_KEY", str(key))

    def checkpoint(name: str):
        path = tmp_path / name
        assert cli("audit", "checkpoint", "--out", path).exit_code == 0
        return path

    return checkpoint, tmp_path / "audit.pem.pub"


@pytest.mark.slow
def test_an_old_checkpoint_is_refused_with_the_state_file(cli, log, signed, engine, example_inputs, tmp_path):
    checkpoint, public = signed
    old = checkpoint("old.json")
    fill(log, engine, example_inputs, 2, start=5)
    new = checkpoint("new.json")
    state = tmp_path / "state.json"
    accepted = cli("audit", "verify", "--checkpoint", old, "--checkpoint", new, "--public-key", public, "--state", state)
    assert accepted.exit_code == 0, accepted.output
    assert "2 records appended since the checkpoint" in accepted.output and "0 records appended" in accepted.output
    assert json.loads(state.read_text())["records"] == 7

    with log.begin() as connection:  # cut the log back to the old checkpoint: it still matches that one
        connection.execute(delete(TABLE).where(TABLE.c.seq > 5))
    assert cli("audit", "verify", "--checkpoint", old, "--public-key", public).exit_code == 0
    refused = cli("audit", "verify", "--checkpoint", old, "--public-key", public, "--state", state)
    assert refused.exit_code == 1
    assert f"checkpoint {old} is older than the one accepted in {state}: it covers 5 records, that one 7" in refused.output
    truncated = cli("audit", "verify", "--state", state)
    assert truncated.exit_code == 1 and "the log ends at record 5" in truncated.output and "records 6 to 7 removed" in truncated.output
    out_of_order = cli("audit", "verify", "--checkpoint", new, "--checkpoint", old, "--public-key", public)
    assert out_of_order.exit_code == 1 and "is older than checkpoint" in out_of_order.output


@pytest.mark.slow
def test_a_rewritten_log_fails_its_checkpoint_through_the_cli(cli, log, signed):
    checkpoint, public = signed
    cp = checkpoint("cp.json")
    with log.begin() as connection:
        connection.execute(update(TABLE).where(TABLE.c.seq == 4).values(actor="token-x"))
        record = connection.execute(select(TABLE.c.record).where(TABLE.c.seq == 4)).scalar_one()
        connection.execute(update(TABLE).where(TABLE.c.seq == 4).values(record=record.replace('"actor":"token-3"', '"actor":"token-x"')))
    rehash_from(log, 4)
    assert cli("audit", "verify").exit_code == 0
    result = cli("audit", "verify", "--checkpoint", cp, "--public-key", public)
    assert result.exit_code == 1 and f"record 5 differs from checkpoint {cp}: the log was rewritten" in result.output


@pytest.mark.slow
def test_an_outside_auditor_needs_only_the_public_key(cli, log, signed, database_url, tmp_path):
    checkpoint, public = signed
    cp = checkpoint("cp.json")
    (tmp_path / "audit.pem").unlink()  # the auditor never has the private key
    env = {k: v for k, v in os.environ.items() if k not in ("GOVERN_AUDIT_SIGNING_KEY", "GOVERN_CONFIG")}
    env["GOVERN_DATABASE_URL"] = database_url

    def audit(*args):
        return subprocess.run([sys.executable, "-m", "govern", "audit", "verify", *map(str, args)], env=env, capture_output=True, text=True, timeout=120)

    accepted = audit("--checkpoint", cp, "--public-key", public)
    assert accepted.returncode == 0, accepted.stderr
    assert "decision log intact: 5 records" in accepted.stdout and "0 records appended since the checkpoint" in accepted.stdout
    with log.begin() as connection:
        connection.execute(delete(TABLE).where(TABLE.c.seq == 5))
    caught = audit("--checkpoint", cp, "--public-key", public)
    assert caught.returncode == 1 and "record 5 removed" in caught.stderr
    wrong_key = audit("--checkpoint", cp, "--public-key", cp)
    assert wrong_key.returncode == 2 and "not a PEM public key" in wrong_key.stderr and "Traceback" not in wrong_key.stderr


@pytest.mark.slow
def test_hostile_checkpoint_and_state_files_are_refused_cleanly(cli, signed, tmp_path):
    _, public = signed
    for name, text in (("deep.json", "[" * 50_000), ("huge.json", " " * 70_000), ("list.json", "[1, 2]"), ("bad.json", '{"records": -1}')):
        path = tmp_path / name
        path.write_text(text)
        for args in (("--checkpoint", path, "--public-key", public), ("--state", path), ("--checkpoint", path, "--public-key", path)):
            result = cli("audit", "verify", *args)
            assert result.exit_code == 2 and "error:" in result.output, (name, args, result.output)
