"""Lineage that only its owner writes: govern's namespaces, govern's facets and the runs govern created.

Compliance reads a `govern.<team>` run's state and decision as the record of what happened, so another
producer must not be able to fail such a run, attach a decision to it or add a dataset it did not read.
Other producers may still read govern's datasets (a job consuming an experiment's results) and name a
govern run as their parent.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import select
from sqlmodel import Session, col

from govern.db.tables import JobRecord, LineageOutboxEntry, SubmissionRecord
from govern.lineage.store.ingest import ParsedEvent
from govern.lineage.store.write import RUNS

GOVERN_NAMESPACE = "govern"
GOVERN_FACET_PREFIX = "govern_"


def owned_namespace(namespace: str) -> bool:
    """`govern` and `govern.<anything>`, in any case: compared folded, so a look-alike is refused too."""
    folded = namespace.casefold()
    return folded == GOVERN_NAMESPACE or folded.startswith(GOVERN_NAMESPACE + ".")


def claim(session: Session, event: dict[str, Any], parsed: ParsedEvent) -> str | None:
    """What in a parsed event only govern may write, said for the 403; None when nothing is."""
    if parsed.kind == "dataset":
        namespace = event["dataset"]["namespace"]
        return f"dataset namespace {namespace!r} is govern's own" if owned_namespace(namespace) else None
    if owned_namespace(parsed.job_namespace):
        return f"job namespace {parsed.job_namespace!r} is govern's own"
    for direction, namespace, name in parsed.datasets:
        if direction == "output" and owned_namespace(namespace):
            return f"output dataset {namespace}:{name} is in govern's own namespace"
    if parsed.kind != "run":
        return None
    facets = event["run"].get("facets") or {}
    for key in facets:
        if key.startswith(GOVERN_FACET_PREFIX):
            return f"run facet {key!r} is govern's own"
    if govern_created(session, parsed.run_id):
        return f"run {parsed.run_id} was created by govern"
    return None


def govern_created(session: Session, run_id: str) -> bool:
    """Whether govern issued the run id: a submission's or a dispatch job's run, an event in govern's own
    outbox, or a stored run of a govern namespace (delivered by another govern service)."""
    issued = (
        select(col(SubmissionRecord.run_id)).where(col(SubmissionRecord.run_id) == run_id),
        select(col(JobRecord.run_id)).where(col(JobRecord.run_id) == run_id),
        select(col(LineageOutboxEntry.run_id)).where(col(LineageOutboxEntry.run_id) == run_id),
    )
    if any(session.execute(query.limit(1)).first() for query in issued):
        return True
    stored = session.execute(select(RUNS.c.job_namespace).where(RUNS.c.run_id == run_id)).scalar()
    return stored is not None and owned_namespace(stored)
