"""`govern audit`, for compliance and outside auditors: verify the decision log's chain (against signed
checkpoints, with the public key alone), sign checkpoints of its head, create the signing key pair, export the
log from the service."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

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
from govern.exit_codes import EXIT_DENIED

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

    from govern.audit.checkpoint import AuditorState, Checkpoint
    from govern.audit.log import Pin

audit_app = command_group("The decision log: verify its hash chain, sign checkpoints of its head, export it.")


@audit_app.command("verify")
def audit_verify(
    checkpoint: Annotated[
        Optional[list[Path]],
        typer.Option("--checkpoint", metavar="FILE", help="Also check the log against this signed checkpoint; repeatable, oldest first."),
    ] = None,
    public_key: Annotated[
        Optional[Path], typer.Option("--public-key", metavar="PATH.pub", help="The public key that signed the checkpoints (PATH.pub from `govern audit keygen`).")
    ] = None,
    state: Annotated[
        Optional[Path],
        typer.Option("--state", metavar="FILE", help="Your state file: refuse a checkpoint older than the newest accepted; updated when the log verifies."),
    ] = None,
) -> None:
    """Walk the decision log's hash chain: exit 1 naming the first record that was edited, removed, moved or
    relabelled, or the checkpoint the log no longer reaches."""
    # lazy: start-up time (sqlalchemy)
    from govern.audit.log import verify
    from govern.db.database import reading, session_scope

    checkpoints = _checkpoints(checkpoint or [], public_key)
    accepted = _state(state)
    pins, newest = _pins(checkpoints, accepted, state)
    with database_errors(hint=DATABASE_HINT):
        with session_scope(reading(database_or_exit())) as session:
            result = verify(session, pins)
    if not result.ok:
        raise fail(f"decision log is NOT intact after {result.records} good records: {result.problem}", EXIT_DENIED)
    typer.echo(f"decision log intact: {result.records} records, head {result.head_hash}")
    for path, loaded in checkpoints:
        appended = result.records - loaded.records
        typer.echo(
            f"matches checkpoint {path} ({loaded.records} records, signed {loaded.created_at}): "
            f"{appended} record{'' if appended == 1 else 's'} appended since the checkpoint"
        )
    if state is not None and newest is not None:
        try:
            newest.save(state)
        except OSError as exc:
            raise fail(f"cannot write the state file {state}: {exc.strerror or exc.__class__.__name__}") from None
        typer.echo(f"state {state}: the newest accepted checkpoint has {newest.records} records")


def _checkpoints(paths: list[Path], public_key: Path | None) -> list[tuple[Path, Checkpoint]]:
    """The checkpoints, each signed by the trusted public key: unreadable input exits 2, a bad signature 1."""
    from govern.audit.checkpoint import (  # lazy: start-up time (cryptography)
        Checkpoint,
        CheckpointError,
        load_public_key,
    )

    if not paths:
        return []
    if public_key is None:
        raise fail("--public-key PATH.pub is needed to verify a checkpoint (the private key is never needed)")
    try:
        trusted = load_public_key(public_key)
        loaded = [(path, Checkpoint.load(path)) for path in paths]
    except CheckpointError as exc:
        raise fail(str(exc)) from None
    for path, each in loaded:
        try:
            each.check_signature(trusted)
        except CheckpointError as exc:
            raise fail(f"checkpoint {path} is NOT valid: {exc}", EXIT_DENIED) from None
    return loaded


def _state(path: Path | None) -> AuditorState | None:
    from govern.audit.checkpoint import AuditorState, CheckpointError  # lazy: start-up time (cryptography)

    if path is None:
        return None
    try:
        return AuditorState.load(path)
    except CheckpointError as exc:
        raise fail(str(exc)) from None


def _pins(
    checkpoints: list[tuple[Path, Checkpoint]], accepted: AuditorState | None, state: Path | None
) -> tuple[list[Pin], AuditorState | None]:
    """What the log must still pass through, and the newest of it; a checkpoint older than one accepted
    before it (in the state file, or earlier on the command line) is refused."""
    # lazy: start-up time (cryptography, sqlalchemy)
    from govern.audit.checkpoint import AuditorState
    from govern.audit.log import Pin

    pins = [Pin(accepted.records, accepted.head_hash, f"the accepted checkpoint in {state}")] if accepted else []
    newest, newest_label = accepted, f"the one accepted in {state}"
    for path, each in checkpoints:
        if newest is not None and each.records < newest.records:
            raise fail(
                f"checkpoint {path} is older than {newest_label}: it covers {each.records} records, that one {newest.records}",
                EXIT_DENIED,
            )
        if newest is not None and each.records == newest.records and each.head_hash != newest.head_hash:
            raise fail(f"checkpoint {path} contradicts {newest_label}: record {each.records} has two head hashes", EXIT_DENIED)
        pins.append(Pin(each.records, each.head_hash, f"checkpoint {path}"))
        newest, newest_label = AuditorState(each.records, each.head_hash, each.created_at), f"checkpoint {path}"
    return pins, newest


@audit_app.command("checkpoint")
def audit_checkpoint(
    out: Annotated[Optional[Path], typer.Option("--out", "-o", help="Write the checkpoint here instead of stdout.")] = None,
) -> None:
    """Sign the log's current head (Ed25519, GOVERN_AUDIT_SIGNING_KEY) to keep outside the database."""
    # lazy: start-up time (cryptography, sqlalchemy)
    from govern.audit.checkpoint import sign
    from govern.audit.log import verify
    from govern.db.database import reading, session_scope

    key = _signing_key()
    with database_errors(hint=DATABASE_HINT):
        with session_scope(reading(database_or_exit())) as session:
            result = verify(session)
    if not result.ok:
        raise fail(f"refusing to checkpoint a broken log: {result.problem}", EXIT_DENIED)
    text = sign(key, result.records, result.head_hash).to_json()
    if out:
        out.write_text(text, encoding="utf-8")
        stderr_console().print(f"checkpoint of {result.records} records written to {out}", markup=False)
    else:
        sys.stdout.write(text)


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


def _signing_key() -> Ed25519PrivateKey:
    from govern.audit.checkpoint import CheckpointError, load_private_key  # lazy: start-up time (cryptography)

    settings = settings_or_exit()
    if settings.audit_signing_key is None:
        raise fail("GOVERN_AUDIT_SIGNING_KEY is not set (create a key with `govern audit keygen PATH`)")
    try:
        return load_private_key(settings.audit_signing_key)
    except CheckpointError as exc:
        raise fail(str(exc)) from None
