"""Bundle revisions kept for good, content-addressed: each file's content once by its SHA-256, each revision
as the list of its files. A decision names its revision, so it can always be loaded again and replayed.

Stored whenever a bundle starts deciding (the service's install, each reload, `govern check --record`);
storing a revision already kept only moves its `last_active_at`. Loading one rebuilds the bundle from its
files and refuses it unless they still digest to the revision (govern.policy.bundle.rebuild_bundle).
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime

from sqlalchemy import select, update
from sqlalchemy.dialects.postgresql import insert as postgresql_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlmodel import Session

from govern.db.tables import PolicyBlobRecord, PolicyRevisionFileRecord, PolicyRevisionRecord, table_of
from govern.policy.bundle import BundleFile, PolicyBundle, rebuild_bundle
from govern.records.errors import as_utc

_BLOBS = table_of(PolicyBlobRecord)
_REVISIONS = table_of(PolicyRevisionRecord)
_FILES = table_of(PolicyRevisionFileRecord)


def store_revision(session: Session, bundle: PolicyBundle, now: datetime | None = None) -> None:
    """Keep the bundle's revision (in the caller's transaction); idempotent, and safe when processes race."""
    now = now or datetime.now(UTC)
    insert = postgresql_insert if session.get_bind().dialect.name == "postgresql" else sqlite_insert
    known = session.execute(
        update(_REVISIONS).where(_REVISIONS.c.revision == bundle.revision).values(last_active_at=now)
    ).rowcount  # type: ignore[attr-defined]  # a CursorResult's, which Session.execute's type leaves out
    if known:
        return
    blobs = {hashlib.sha256(f.content).hexdigest(): f.content for f in bundle.files}
    session.execute(insert(_BLOBS).on_conflict_do_nothing(), [{"sha256": k, "content": v} for k, v in blobs.items()])
    added = session.execute(
        insert(_REVISIONS).on_conflict_do_nothing().returning(_REVISIONS.c.revision),
        [{"revision": bundle.revision, "manifest_revision": bundle.manifest_revision, "first_active_at": now, "last_active_at": now}],
    ).all()
    if added:
        session.execute(insert(_FILES), [
            {"revision": bundle.revision, "kind": f.kind, "name": f.name, "module_path": f.module_path, "origin": f.origin,
             "sha256": hashlib.sha256(f.content).hexdigest()}
            for f in bundle.files
        ])


def stored_files(session: Session, revision: str) -> list[BundleFile]:
    """The revision's files as stored (empty when the revision is not kept)."""
    rows = session.execute(
        select(_FILES.c.kind, _FILES.c.name, _FILES.c.module_path, _FILES.c.origin, _BLOBS.c.content)
        .join(_BLOBS, _BLOBS.c.sha256 == _FILES.c.sha256)
        .where(_FILES.c.revision == revision)
        .order_by(_FILES.c.kind, _FILES.c.name)
    )
    return [BundleFile(row.kind, row.name, bytes(row.content), row.module_path, row.origin) for row in rows]


def load_revision(session: Session, revision: str) -> PolicyBundle | None:
    """The bundle of a kept revision, rebuilt and checked against its digest; None when it was never kept.
    Raises BundleError when its stored files no longer digest to it."""
    files = stored_files(session, revision)
    return rebuild_bundle(revision, files) if files else None


def revisions(session: Session) -> list[PolicyRevisionRecord]:
    """Every kept revision, the most recently active first."""
    rows = session.execute(select(_REVISIONS).order_by(_REVISIONS.c.last_active_at.desc(), _REVISIONS.c.revision))
    return [
        PolicyRevisionRecord(revision=row.revision, manifest_revision=row.manifest_revision,
                             first_active_at=as_utc(row.first_active_at), last_active_at=as_utc(row.last_active_at))
        for row in rows
    ]
