"""`govern audit`, for compliance and outside auditors: verify the decision log (against signed checkpoints,
with the public key alone), sign checkpoints of its Merkle tree, prove one record or that one checkpoint
extends another and check those proofs offline, create the signing key pair, export the log from the service."""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Optional

import typer

from govern.cli.common import (
    DATABASE_HINT,
    ServerOption,
    client_errors,
    client_or_exit,
    command_group,
    database_errors,
    database_or_exit,
    fail,
    settings_or_exit,
    stderr_console,
)
from govern.exit_codes import EXIT_BAD_INPUT, EXIT_DENIED

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

MAX_PROOF_BYTES = 64 * 1024 * 1024
"""A record proof carries the record's content, the policy input among it: far more than any request body."""

audit_app = command_group("The decision log: verify it, sign checkpoints, prove a record or a checkpoint's extension, export it.")


OriginOption = Annotated[
    Optional[str], typer.Option("--origin", metavar="O", help="The log's name in its checkpoints (default: GOVERN_AUDIT_LOG_ORIGIN).")
]
PublicKeyOption = Annotated[
    Optional[Path], typer.Option("--public-key", metavar="PATH.pub", help="The public key that signed the checkpoints (PATH.pub from `govern audit keygen`).")
]


@audit_app.command("verify")
def audit_verify(
    checkpoint: Annotated[
        Optional[list[Path]],
        typer.Option("--checkpoint", metavar="FILE", help="Also check the log against this signed checkpoint; repeatable, oldest first."),
    ] = None,
    public_key: PublicKeyOption = None,
    state: Annotated[
        Optional[Path],
        typer.Option("--state", metavar="FILE", help="Your state file: refuse a checkpoint older than the newest accepted; updated when the log verifies."),
    ] = None,
    origin: OriginOption = None,
) -> None:
    """Walk the decision log's hash chain and its Merkle tree: exit 1 naming the first record that was edited,
    removed, moved or relabelled, or the checkpoint the log no longer reaches or extends."""
    # lazy: start-up time (cryptography, sqlalchemy)
    from govern.audit.anchors import AnchorRefused, check_log, load_checkpoint, state_anchor
    from govern.audit.checkpoint import AuditorState, CheckpointError
    from govern.db.database import reading, session_scope

    paths = checkpoint or []
    if paths and public_key is None:
        raise fail("--public-key PATH.pub is needed to verify a checkpoint (the private key is never needed)")
    try:
        trusted = _public_key(public_key) if public_key is not None else None
        anchors = [load_checkpoint(path, _origin(origin), trusted) for path in paths] if trusted else []
        accepted = AuditorState.load(state) if state is not None else None
    except CheckpointError as exc:
        raise fail(str(exc)) from None
    except AnchorRefused as exc:
        raise fail(str(exc), EXIT_DENIED) from None
    if accepted is not None and state is not None:
        anchors.insert(0, state_anchor(accepted, state))
    with database_errors(hint=DATABASE_HINT):
        with session_scope(reading(database_or_exit())) as session:
            try:
                result = check_log(session, anchors)
            except AnchorRefused as exc:
                raise fail(str(exc), EXIT_DENIED) from None
    if result.problem is not None:
        raise fail(f"decision log is NOT intact after {result.records} good records: {result.problem}", EXIT_DENIED)
    typer.echo(f"decision log intact: {result.records} records, head {result.head_hash}")
    for each in anchors[1:] if accepted is not None else anchors:
        appended = result.records - each.records
        what = f"signed {each.signed_at}" if each.signed_at else f"root {each.root_hash.hex() if each.root_hash else ''}"
        typer.echo(
            f"matches {each.label} ({each.records} records, {what}): "
            f"{appended} record{'' if appended == 1 else 's'} appended since the checkpoint"
        )
    if state is not None and result.accepted is not None:
        try:
            result.accepted.save(state)
        except OSError as exc:
            raise fail(f"cannot write the state file {state}: {exc.strerror or exc.__class__.__name__}") from None
        typer.echo(f"state {state}: the newest accepted checkpoint has {result.accepted.records} records")


@audit_app.command("checkpoint")
def audit_checkpoint(
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the checkpoint here instead of stdout.")] = None,
) -> None:
    """Sign a checkpoint of the log's Merkle tree (a C2SP signed note: origin, size, root hash; Ed25519,
    GOVERN_AUDIT_SIGNING_KEY) to keep outside the database."""
    # lazy: start-up time (cryptography, sqlalchemy)
    from govern.audit.log import verify
    from govern.audit.tree import signed_checkpoint
    from govern.db.database import reading, session_scope

    key, origin = signing_key_or_exit(), _origin(None)
    with database_errors(hint=DATABASE_HINT):
        with session_scope(reading(database_or_exit())) as session:
            result = verify(session)
            if not result.ok:
                raise fail(f"refusing to checkpoint a broken log: {result.problem}", EXIT_DENIED)
            note, leaves = signed_checkpoint(session, origin, key)
    _write(note, out, f"checkpoint of {len(leaves)} records")


@audit_app.command("prove")
def audit_prove(
    decision_id: Annotated[str, typer.Argument(help="The decision whose record to prove.")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the proof here instead of stdout.")] = None,
) -> None:
    """Write the proof that one record is in the log (its columns, its inclusion proof and a checkpoint signed
    now, JSON): `govern audit verify-proof` checks it with the public key alone."""
    # lazy: start-up time (cryptography, sqlalchemy)
    from govern.audit.tree import prove
    from govern.db.database import reading, session_scope

    key, origin = signing_key_or_exit(), _origin(None)
    with database_errors(hint=DATABASE_HINT):
        with session_scope(reading(database_or_exit())) as session:
            proof = prove(session, decision_id, origin, key)
    if proof is None:
        raise fail(f"no record of decision {decision_id!r} in the decision log")
    _write(json.dumps(proof.to_json(), indent=2) + "\n", out, f"proof of record {proof.index + 1}")


@audit_app.command("verify-proof")
def audit_verify_proof(
    proof: Annotated[Path, typer.Argument(metavar="FILE", help="A record proof from `govern audit prove` or GET /v1/audit/decisions/{id}/proof.")],
    public_key: PublicKeyOption = None,
    origin: OriginOption = None,
) -> None:
    """Check a record proof with no database: exit 0 when the record is in the log under the signed
    checkpoint, 1 naming what failed, 2 when the file is not a proof."""
    from govern.audit.tree import check_proof  # lazy: start-up time (cryptography)

    trusted, document = _public_key(_required_key(public_key)), _json_file(proof, "record proof")
    with _proof_errors(f"proof {proof}"):
        checkpoint = check_proof(document, _origin(origin), trusted)
    record = document["record"]
    typer.echo(f"proof {proof} verifies: record {record['seq']} (decision {record['decision_id']}) is in the log {checkpoint.origin} of {checkpoint.size} records")


@audit_app.command("prove-consistency")
def audit_prove_consistency(
    old_size: Annotated[int, typer.Argument(min=0, help="The older checkpoint's tree size.")],
    new_size: Annotated[int, typer.Argument(min=0, help="The newer checkpoint's tree size.")],
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the proof here instead of stdout.")] = None,
) -> None:
    """Write the consistency proof that the log's tree of NEW_SIZE records extends that of OLD_SIZE (RFC 9162,
    JSON), for `govern audit consistency`; reads the database, needs no key."""
    # lazy: start-up time (sqlalchemy)
    from govern.audit.merkle import ProofError
    from govern.audit.tree import prove_consistency
    from govern.db.database import reading, session_scope

    with database_errors(hint=DATABASE_HINT):
        with session_scope(reading(database_or_exit())) as session:
            try:
                document = prove_consistency(session, old_size, new_size)
            except ProofError as exc:
                raise fail(str(exc)) from None
    _write(json.dumps(document, indent=2) + "\n", out, f"consistency proof from {old_size} to {new_size} records")


@audit_app.command("consistency")
def audit_consistency(
    old: Annotated[Path, typer.Argument(metavar="OLD", help="The older signed checkpoint.")],
    new: Annotated[Path, typer.Argument(metavar="NEW", help="The newer signed checkpoint.")],
    public_key: PublicKeyOption = None,
    proof: Annotated[
        Optional[Path], typer.Option("--proof", metavar="FILE", help="The consistency proof (`govern audit prove-consistency`); without it, computed from the database.")
    ] = None,
    origin: OriginOption = None,
) -> None:
    """Check that checkpoint NEW extends checkpoint OLD (an RFC 6962 consistency proof): exit 0, 1 naming
    what failed (a fork, a rewrite, a signature), 2 when a file is unreadable."""
    from govern.audit.checkpoint import CheckpointError, read_small  # lazy: start-up time (cryptography)
    from govern.audit.note import parse_checkpoint
    from govern.audit.tree import check_consistency

    trusted, name = _public_key(_required_key(public_key)), _origin(origin)
    try:
        notes = [read_small(path, "checkpoint").decode("utf-8", "replace") for path in (old, new)]
    except CheckpointError as exc:
        raise fail(str(exc)) from None
    document = _json_file(proof, "consistency proof") if proof is not None else None
    if proof is None:
        with _proof_errors("the checkpoints"):
            sizes = [parse_checkpoint(note.partition("\n\n")[0] + "\n").size for note in notes]
        document = _database_consistency(*sizes)
    with _proof_errors(f"checkpoint {new} over {old}"):
        older, newer = check_consistency(notes[0], notes[1], document, name, trusted)
    typer.echo(f"checkpoint {new} ({newer.size} records) extends checkpoint {old} ({older.size} records)")


def _database_consistency(old_size: int, new_size: int) -> dict[str, Any] | None:
    """The consistency proof from the database, for an operator without a proof file."""
    from govern.audit.merkle import ProofError  # lazy: start-up time (sqlalchemy)
    from govern.audit.tree import prove_consistency
    from govern.db.database import reading, session_scope

    if not 0 < old_size < new_size:
        return None
    with database_errors(hint=DATABASE_HINT):
        with session_scope(reading(database_or_exit())) as session:
            try:
                return prove_consistency(session, old_size, new_size)
            except ProofError as exc:
                raise fail(f"{exc}: the database is not the log these checkpoints are of", EXIT_DENIED) from None


@contextmanager
def _proof_errors(what: str) -> Iterator[None]:
    """A proof that fails is exit 1 naming why; one that is no proof, or a note that is no note, exit 2."""
    from govern.audit.merkle import ProofError  # lazy: start-up time (cryptography)
    from govern.audit.note import NoteError, NoteRefused
    from govern.audit.tree import ProofUnreadable

    try:
        yield
    except (ProofUnreadable, NoteRefused) as exc:
        code = EXIT_DENIED if isinstance(exc, NoteRefused) else EXIT_BAD_INPUT
        raise fail(f"{what} is NOT valid: {exc}" if code == EXIT_DENIED else f"{what}: {exc}", code) from None
    except NoteError as exc:
        raise fail(f"{what}: {exc}") from None
    except ProofError as exc:
        raise fail(f"{what} is NOT valid: {exc}", EXIT_DENIED) from None


def _json_file(path: Path, what: str) -> Any:
    from govern.audit.checkpoint import CheckpointError, read_small  # lazy: start-up time (cryptography)

    try:
        return json.loads(read_small(path, what, MAX_PROOF_BYTES))
    except CheckpointError as exc:
        raise fail(str(exc)) from None
    except (ValueError, RecursionError) as exc:
        raise fail(f"{path} is not a {what}: {exc.__class__.__name__}") from None


def _write(text: str, out: Path | None, what: str) -> None:
    if out is None:
        sys.stdout.write(text)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror or exc.__class__.__name__}") from None
    stderr_console().print(f"{what} written to {out}", markup=False)


@audit_app.command("keygen")
def audit_keygen(path: Annotated[Path, typer.Argument(help="Where to write the new private key (PEM); the public key goes to PATH.pub.")]) -> None:
    """Create an Ed25519 key pair for checkpoints: point GOVERN_AUDIT_SIGNING_KEY at PATH, give auditors PATH.pub."""
    from govern.audit.checkpoint import generate_key, public_key_path  # lazy: start-up time (cryptography)

    try:
        public = generate_key(path)
    except FileExistsError as exc:
        raise fail(f"{exc.filename} exists; not overwriting a key") from None
    except OSError as exc:
        raise fail(f"cannot write {path}: {exc.strerror or exc.__class__.__name__}") from None
    typer.echo(f"wrote {path} (private: keep it secret) and {public_key_path(path)} (public: for auditors); public key {public}")


@audit_app.command("export")
def audit_export(
    export_format: Annotated[str, typer.Option("--format", "-f", help="jsonl or csv.")] = "jsonl",
    team: Annotated[Optional[str], typer.Option("--team", help="Only this team's decisions.")] = None,
    outcome: Annotated[Optional[str], typer.Option("--outcome", help="allowed, warned or denied.")] = None,
    rule: Annotated[Optional[str], typer.Option("--rule", help="Only decisions where this rule fired.")] = None,
    since: Annotated[Optional[str], typer.Option("--since", help="Recorded at or after this time (ISO 8601).")] = None,
    until: Annotated[Optional[str], typer.Option("--until", help="Recorded before this time (ISO 8601).")] = None,
    server: ServerOption = None,
) -> None:
    """Stream the decision log from the service (compliance and admin tokens), as GET /v1/audit/decisions gives it."""
    filters = {"format": export_format, "team": team, "outcome": outcome, "rule": rule, "since": since, "until": until}
    with client_errors():
        lines = client_or_exit(settings_or_exit(), server).stream_lines("/v1/audit/decisions", params={k: v for k, v in filters.items() if v})
        for line in lines:
            sys.stdout.write(line + "\n")


def _required_key(path: Path | None) -> Path:
    if path is None:
        raise fail("--public-key PATH.pub is needed (the private key is never needed)")
    return path


def _public_key(path: Path) -> Ed25519PublicKey:
    from govern.audit.checkpoint import CheckpointError, load_public_key  # lazy: start-up time (cryptography)

    try:
        return load_public_key(path)
    except CheckpointError as exc:
        raise fail(str(exc)) from None


def _origin(given: str | None) -> str:
    return given or settings_or_exit().audit_log_origin


def signing_key_or_exit() -> Ed25519PrivateKey:
    from govern.audit.checkpoint import CheckpointError, load_private_key  # lazy: start-up time (cryptography)

    settings = settings_or_exit()
    if settings.audit_signing_key is None:
        raise fail("GOVERN_AUDIT_SIGNING_KEY is not set (create a key with `govern audit keygen PATH`)")
    try:
        return load_private_key(settings.audit_signing_key)
    except CheckpointError as exc:
        raise fail(str(exc)) from None
