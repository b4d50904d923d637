"""`govern audit pack` and `govern audit verify-pack`: one submission's evidence in a signed zip, and its
offline check with the public key alone (govern.audit.evidence)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Optional

import typer

from govern.cli.audit import audit_app, signing_key_or_exit
from govern.cli.common import DATABASE_HINT, database_errors, database_or_exit, fail, settings_or_exit, stderr_console
from govern.exit_codes import EXIT_DENIED


@audit_app.command("pack")
def audit_pack(
    submission_id: Annotated[str, typer.Argument(help="The submission whose evidence to pack.")],
    out: Annotated[Path, typer.Option("--out", "-o", metavar="FILE.zip", help="Where to write the pack.")],
) -> None:
    """Write a submission's evidence pack (signed with GOVERN_AUDIT_SIGNING_KEY) from the database."""
    # lazy: start-up time (cryptography, sqlalchemy, jinja2, fpdf2)
    from govern.audit.evidence.pack import PackTooLarge, build_pack
    from govern.db.database import reading, session_scope

    key = signing_key_or_exit()
    origin = settings_or_exit().audit_log_origin
    with database_errors(hint=DATABASE_HINT):
        with session_scope(reading(database_or_exit())) as session:
            try:
                data = build_pack(session, submission_id, origin, key)
            except PackTooLarge as exc:
                raise fail(str(exc)) from None
    if data is None:
        raise fail(f"no submission {submission_id!r}")
    try:
        out.write_bytes(data)
    except OSError as exc:
        raise fail(f"cannot write {out}: {exc.strerror or exc.__class__.__name__}") from None
    stderr_console().print(f"evidence pack of submission {submission_id} written to {out} ({len(data)} bytes)", markup=False)


@audit_app.command("verify-pack")
def audit_verify_pack(
    pack: Annotated[Path, typer.Argument(metavar="FILE.zip", help="The evidence pack to verify.")],
    public_key: Annotated[Path, typer.Option("--public-key", metavar="PATH.pub", help="The log's public key (PATH.pub from `govern audit keygen`).")],
    origin: Annotated[
        Optional[str], typer.Option("--origin", help="The log's origin the signatures must be under (default: the one the pack names).")
    ] = None,
) -> None:
    """Verify an evidence pack offline, no database: every file's hash, each record's proof, the signatures.
    Exit 0 when it verifies, 1 naming the file that does not, 2 when it is not a pack at all."""
    # lazy: start-up time (cryptography)
    from govern.audit.checkpoint import CheckpointError, load_public_key
    from govern.audit.evidence.layout import MAX_PACK_BYTES, PackError, UnreadablePack
    from govern.audit.evidence.verify import verify_pack

    try:
        trusted = load_public_key(public_key)
    except CheckpointError as exc:
        raise fail(str(exc)) from None
    try:
        with pack.open("rb") as file:
            data = file.read(MAX_PACK_BYTES + 1)
    except OSError as exc:
        raise fail(f"cannot read {pack}: {exc.strerror or exc.__class__.__name__}") from None
    try:
        verified = verify_pack(data, trusted, origin)
    except UnreadablePack as exc:
        raise fail(f"{pack} is not an evidence pack: {exc}") from None
    except PackError as exc:
        raise fail(f"pack does NOT verify: {exc}", EXIT_DENIED) from None
    typer.echo(
        f"pack verifies: submission {verified.submission_id}, {verified.members} files, {verified.decisions} decision "
        f"record{'' if verified.decisions == 1 else 's'} proven in a log of {verified.tree_size} under origin {verified.origin}"
    )
    for revision in verified.unkept_revisions:
        typer.echo(f"note: bundle revision {revision} was never kept by the log's database, so its files are not in the pack")
