"""Making dispatch jobs: everything a worker needs is fixed when the submission is allowed (circuit, target,
fallback, seeds, price model), so the job runs the same whichever worker takes it, whenever."""

from __future__ import annotations

import enum
import secrets
import uuid
from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from govern.db.tables import JobRecord
from govern.manifest.schema import SEED_LIMIT, Experiment
from govern.secrets import redacted


class JobKind(str, enum.Enum):
    """Why a job exists, stored in `jobs.kind`: the submission's own run, the fallback that stands in for it,
    a reproduction that repeats a finished simulator run, or the classical baseline run beside it."""

    PRIMARY = "primary"
    FALLBACK = "fallback"
    REPRODUCTION = "reproduction"
    BASELINE = "baseline"


DISPATCH_KINDS = (JobKind.PRIMARY.value, JobKind.FALLBACK.value)
"""The kinds of job that carry out the submission itself: its status and result are theirs, never a
reproduction's or a baseline's."""


def price_model(bundle_data: Mapping[str, Any], vendor: str, device: str) -> dict[str, Any]:
    """The device's price model from the bundle's pricing data, else its vendor's (the policies' own rule)."""
    pricing = bundle_data.get("govern", {}).get("pricing", {})
    return dict(pricing.get("devices", {}).get(device) or pricing.get("vendors", {}).get(vendor) or {})


def fallback_target(bundle_data: Mapping[str, Any], experiment: Experiment) -> dict[str, Any] | None:
    """Where the job may fall back to, and on what: the policy already cleared the device for the data."""
    fallback = experiment.spec.fallback
    if fallback is None:
        return None
    vendor = bundle_data.get("govern", {}).get("backends", {}).get(fallback.device, {}).get("vendor", "local")
    triggers: list[Any] = [t if isinstance(t, str) else t.model_dump(by_alias=True) for t in fallback.on]
    return {"vendor": vendor, "device": fallback.device, "on": triggers,
            "priceModel": price_model(bundle_data, vendor, fallback.device)}


def random_seed() -> int:
    """A seed for an experiment that names none, recorded on the job so its run can be repeated."""
    return 1 + secrets.randbelow(SEED_LIMIT - 1)


def new_job(
    *, submission_id: str, run_id: str, experiment: Experiment, qasm: str, bundle_data: Mapping[str, Any],
    estimated_cost: Decimal, currency: str, decided_price_model: Mapping[str, Any] | None, baseline_job_id: str | None = None,
) -> JobRecord:
    """The job of an allowed submission; it is billed with the price model the decision estimated with
    (the vendor's prices on record, else the bundle's), or the bundle's where the decision carries none. It
    runs with the manifest's `hyperparameters.seed` where it gives one, else with random seeds. A
    credential that is a literal secret rather than a reference is kept only as its redaction marker (the
    policies deny it; a bundle that does not still never stores it, and the job fails to resolve it).
    `baseline_job_id` names an earlier run that is its recorded classical baseline."""
    backend = experiment.spec.backend
    seed = experiment.spec.seed
    prices = dict(decided_price_model) if decided_price_model is not None else price_model(bundle_data, backend.vendor, backend.device)
    return JobRecord(
        id=str(uuid.uuid4()), submission_id=submission_id, kind=JobKind.PRIMARY.value, run_id=run_id,
        vendor=backend.vendor, device=backend.device,
        shots=experiment.spec.shots, qasm=qasm, fallback=fallback_target(bundle_data, experiment),
        credentials=redacted(dict(experiment.spec.credentials), "spec.credentials")[0],
        seed_transpiler=seed or random_seed(), seed_simulator=seed or random_seed(),
        price_model=prices,
        estimated_cost=estimated_cost, currency=currency, baseline_job_id=baseline_job_id,
    )


def child_job(parent: JobRecord, kind: JobKind, *, vendor: str, device: str, price_model: dict[str, Any], estimated_cost: Decimal) -> JobRecord:
    """A job derived from another (a fallback, a reproduction, a baseline): same circuit, shots and seeds, a
    run of its own; a fallback keeps the baseline its primary is compared with."""
    return JobRecord(
        id=str(uuid.uuid4()), submission_id=parent.submission_id, kind=kind.value, parent_job_id=parent.id,
        run_id=str(uuid.uuid4()), vendor=vendor, device=device, shots=parent.shots, qasm=parent.qasm,
        credentials=dict(parent.credentials) if vendor == parent.vendor else {},
        seed_transpiler=parent.seed_transpiler, seed_simulator=parent.seed_simulator,
        price_model=price_model, estimated_cost=estimated_cost, currency=parent.currency,
        baseline_job_id=parent.baseline_job_id if kind is JobKind.FALLBACK else None,
    )


def baseline_job(primary: JobRecord, device: str) -> JobRecord:
    """The primary's simulator baseline (policy SEC-009 cleared `device` as a free local simulator), named on
    the primary as the result it is compared with."""
    job = child_job(primary, JobKind.BASELINE, vendor="local", device=device, price_model={}, estimated_cost=Decimal("0"))
    primary.baseline_job_id = job.id
    return job
