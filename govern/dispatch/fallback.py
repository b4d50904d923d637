"""The fallback rules: when a primary job goes to the fallback target its manifest named, and the job it
becomes there.

A fallback is taken before submitting, when the device is unavailable or its queue is over a threshold
(`fallback_trigger`), or after a dispatch error, when the manifest falls back `on: [error]`
(`falls_back_on`). Only a primary job falls back: a fallback or a reproduction fails where it is.
"""

from __future__ import annotations

import re

from govern.backends.base import Availability, Backend, BackendError
from govern.db.tables import JobRecord
from govern.dispatch.costs import actual_cost
from govern.dispatch.deadlines import call_with_deadline
from govern.dispatch.jobs import JobKind, child_job


def fallback_trigger(job: JobRecord, backend: Backend, deadline_s: float) -> str | None:
    """Why the job should go to its fallback now (device unavailable, queue over a threshold), or None; the
    backend has `deadline_s` to say how available it is."""
    if not job.fallback or job.kind != JobKind.PRIMARY.value:
        return None
    triggers = job.fallback.get("on", [])
    try:
        availability = call_with_deadline(backend.availability, deadline_s, f"{backend.key} availability")
    except BackendError as exc:
        availability = Availability(available=False, reason=str(exc))
    if "unavailable" in triggers and not availability.available:
        return f"{backend.key} is unavailable: {availability.reason or 'the vendor says so'}"
    for trigger in triggers:
        if not isinstance(trigger, dict):
            continue
        minutes, pending = trigger.get("queue_minutes_over"), trigger.get("pending_jobs_over")
        if minutes is not None and availability.queue_minutes is not None and availability.queue_minutes > minutes:
            return f"{backend.key} queue is {availability.queue_minutes:g} min, over the {minutes} min threshold"
        if pending is not None and availability.pending_jobs is not None and availability.pending_jobs > pending:
            return f"{backend.key} has {availability.pending_jobs} pending jobs, over the threshold of {pending}"
    return None


FALLBACK_CAUSES = (
    ("unavailable", re.compile(r"\S+ is unavailable: ")),
    ("queue_minutes", re.compile(r"\S+ queue is \S+ min, over the ")),
    ("pending_jobs", re.compile(r"\S+ has \d+ pending jobs, over the threshold ")),
    ("error", re.compile(r"\S+ failed: ")),
)
"""Why a job fell back, read from the start of its recorded reason (`jobs.error`), which the wording here and
in the worker's `_fall_back_or_fail` writes; kept beside that wording so the two change together."""


def fallback_cause(reason: str | None) -> str:
    """The cause a fallen-back job's reason names (`unavailable`, `queue_minutes`, `pending_jobs`, `error`),
    else `other`."""
    return next((cause for cause, pattern in FALLBACK_CAUSES if pattern.match(reason or "")), "other")


def falls_back_on(job: JobRecord, trigger: str) -> bool:
    """Whether the job goes to its fallback on `trigger` (`error`) rather than failing."""
    return bool(job.fallback) and job.kind == JobKind.PRIMARY.value and trigger in (job.fallback or {}).get("on", [])


def fallback_job(job: JobRecord) -> JobRecord:
    """The job's fallback: same circuit, shots and seeds on the fallback target, billed by its price model."""
    target = job.fallback or {}
    model = target.get("priceModel", {})
    return child_job(job, JobKind.FALLBACK, vendor=target["vendor"], device=target["device"], price_model=model,
                     estimated_cost=actual_cost(model, job.shots, None).amount)
