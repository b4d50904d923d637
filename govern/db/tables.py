"""Database tables; what a client may send for a row and see of it is in govern.db.public, so no row reaches a client."""

from __future__ import annotations

import enum
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, LargeBinary, Numeric, Table, Text
from sqlmodel import Field, Index, SQLModel


def utcnow() -> datetime:
    return datetime.now(UTC)


def table_of(model: type[SQLModel]) -> Table:
    """The Core table behind a table model, for the paths that read and write plain rows."""
    table: Table = model.__table__  # type: ignore[attr-defined]  # SQLModel's types leave out the __table__ SQLAlchemy sets
    return table


class Role(str, enum.Enum):
    SUBMITTER = "submitter"
    PROCUREMENT = "procurement"
    COMPLIANCE = "compliance"
    ADMIN = "admin"
    PRODUCER = "producer"
    SERVICE = "service"
    """Another govern service delivering its own lineage: the one role that writes govern's namespaces and runs."""


class ApiToken(SQLModel, table=True):
    """A bearer token: only its SHA-256 is stored; the secret is shown once, when it is created."""

    __tablename__ = "api_tokens"

    id: uuid.UUID = Field(default_factory=uuid.uuid4, primary_key=True)
    name: str = Field(max_length=200)
    role: str = Field(max_length=32)
    team: str = Field(max_length=63, index=True)
    token_hash: str = Field(max_length=64, unique=True, index=True)
    prefix: str = Field(max_length=16)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    revoked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class DecisionRecord(SQLModel, table=True):
    """One entry of the append-only decision log: each hashes its columns and the previous entry's hash
    (format 3, as RFC 8785 JSON; earlier formats, see govern.audit.record_format)."""

    __tablename__ = "decision_log"

    seq: int = Field(primary_key=True)
    decision_id: str = Field(max_length=36, unique=True)
    kind: str = Field(max_length=16)
    actor: str = Field(max_length=64, index=True)
    team: str = Field(max_length=63, index=True)
    outcome: str = Field(max_length=16, index=True)
    bundle_revision: str = Field(max_length=80)
    input_hash: str = Field(max_length=80)
    recorded_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)
    record: str = Field(sa_type=Text)
    prev_hash: str = Field(max_length=64)
    format: int
    hash: str = Field(max_length=64, unique=True)


class DecisionRuleRecord(SQLModel, table=True):
    """A rule a recorded decision fired (denied, warned or waived), written with the record: the KPIs and
    rule filters count these rows instead of parsing every record. An index beside the log, not evidence:
    the record's content, which the chain hashes, stays the source of truth (so no foreign key either: a
    record removed by tampering is for `govern audit verify` to find)."""

    __tablename__ = "decision_rules"
    __table_args__ = (Index("ix_decision_rules_effect_time", "effect", "recorded_at"), Index("ix_decision_rules_rule", "rule", "seq"))

    seq: int = Field(primary_key=True)
    effect: str = Field(primary_key=True, max_length=8)
    rule: str = Field(primary_key=True, max_length=200)
    team: str = Field(max_length=63)
    recorded_at: datetime = Field(sa_type=DateTime(timezone=True))


class VendorRecord(SQLModel, table=True):
    """A vendor procurement has onboarded (or not), with its data-processing agreement and regions."""

    __tablename__ = "vendors"

    name: str = Field(primary_key=True, max_length=200)
    approved: bool = True
    data_processing_agreement: bool = False
    regions: list[str] = Field(default_factory=list, sa_type=JSON)
    price_model: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class SandboxRecord(SQLModel, table=True):
    """A procurement sandbox: a team's time-boxed, budgeted access to a vendor's devices."""

    __tablename__ = "sandboxes"

    id: str = Field(primary_key=True, max_length=200)
    team: str = Field(max_length=63, index=True)
    vendor: str = Field(foreign_key="vendors.name", max_length=200)
    devices: list[str] = Field(default_factory=list, sa_type=JSON)
    status: str = Field(max_length=16, index=True)
    requested_by: str = Field(max_length=64)
    approved_by: str | None = Field(default=None, max_length=64)
    start: datetime = Field(sa_type=DateTime(timezone=True))
    end: datetime = Field(sa_type=DateTime(timezone=True))
    budget: Decimal = Field(sa_type=Numeric(14, 2))
    spent: Decimal = Field(default=Decimal("0"), sa_type=Numeric(14, 2))
    reserved: Decimal = Field(default=Decimal("0"), sa_type=Numeric(14, 2))
    currency: str = Field(default="USD", max_length=3)
    allows_confidential: bool = False
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    decided_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    approved_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    """When it was approved: `decided_at` moves on to the revocation, this stays (procurement lead time)."""
    revision: int = 0
    """Bumped by every change to what a decision reads of the sandbox other than money (status, approver,
    window, devices, budget, team, vendor, confidentiality, pilot terms, a failure that counts), never by a
    reservation, release or charge: a reservation on the revision its decision read proves the decision
    still holds."""
    pilot_terms: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    """govern.pilots.terms.PilotTerms as approved, with the sandbox or by a pilot amendment since (PilotAmendmentRecord);
    None for a sandbox without pilot terms."""
    jobs_ended: int = 0
    jobs_failed: int = 0
    jobs_cancelled: int = 0
    jobs_fallen_back: int = 0
    failed_spend: Decimal = Field(default=Decimal("0"), sa_type=Numeric(14, 2))
    cancelled_spend: Decimal = Field(default=Decimal("0"), sa_type=Numeric(14, 2))


class PilotAmendmentRecord(SQLModel, table=True):
    """A proposed change of a sandbox's pilot terms, with the terms it replaces: the terms change only when
    someone other than the proposer approves it (govern.records.pilot_amendments)."""

    __tablename__ = "pilot_amendments"

    id: str = Field(primary_key=True, max_length=40)
    sandbox_id: str = Field(foreign_key="sandboxes.id", index=True, max_length=200)
    terms: dict[str, Any] = Field(sa_type=JSON)
    replaces: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    reason: str = Field(sa_type=Text)
    status: str = Field(max_length=16)
    requested_by: str = Field(max_length=64)
    requested_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    decided_by: str | None = Field(default=None, max_length=64)
    decided_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class WaiverRecord(SQLModel, table=True):
    """A request to turn one rule's deny into a recorded `waived` entry, for a scope, until it expires."""

    __tablename__ = "waivers"

    id: str = Field(primary_key=True, max_length=40)
    rule: str = Field(max_length=20)
    team: str = Field(max_length=63, index=True)
    experiment: str = Field(default="*", max_length=63)
    sandbox: str | None = Field(default=None, max_length=200)
    status: str = Field(max_length=16, index=True)
    requested_by: str = Field(max_length=64)
    approver: str | None = Field(default=None, max_length=64)
    reason: str = Field(sa_type=Text)
    expires: datetime = Field(sa_type=DateTime(timezone=True))
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    decided_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class SubmissionRecord(SQLModel, table=True):
    """A recorded submission, allowed or denied; its decision lives in the decision log."""

    __tablename__ = "submissions"

    number: int | None = Field(default=None, primary_key=True)
    id: str = Field(max_length=36, unique=True)
    team: str = Field(max_length=63, index=True)
    name: str = Field(max_length=63)
    created_by: str = Field(max_length=64)
    idempotency_key: str | None = Field(default=None, max_length=200)
    request_hash: str = Field(max_length=64)
    decision_id: str = Field(max_length=36)
    outcome: str = Field(max_length=16, index=True)
    sandbox: str | None = Field(default=None, max_length=200)
    estimated_cost: Decimal = Field(default=Decimal("0"), sa_type=Numeric(14, 2))
    currency: str = Field(default="USD", max_length=3)
    circuit_sha256: str = Field(max_length=64)
    run_id: str = Field(max_length=36, index=True)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), index=True)


class JobStatus(str, enum.Enum):
    """A dispatch job's life: persisted before each call to a backend, so a restarted worker knows where it stood."""

    QUEUED = "queued"
    SUBMITTED = "submitted"
    RUNNING = "running"
    SUCCEEDED = "succeeded"
    FAILED = "failed"
    CANCELLED = "cancelled"
    FALLBACK = "fallback"


FINAL_STATUSES = (JobStatus.SUCCEEDED, JobStatus.FAILED, JobStatus.CANCELLED, JobStatus.FALLBACK)


class JobRecord(SQLModel, table=True):
    """Dispatch work for an allowed submission, created in the decision's transaction and taken by a worker.

    A fallback, a reproduction or a baseline is a job of its own, pointing at the job it stands in for, repeats
    or is the classical reference of."""

    __tablename__ = "jobs"

    id: str = Field(primary_key=True, max_length=36)
    submission_id: str = Field(foreign_key="submissions.id", index=True, max_length=36)
    kind: str = Field(default="primary", max_length=16)
    parent_job_id: str | None = Field(default=None, max_length=36)
    baseline_job_id: str | None = Field(default=None, max_length=36)
    """The job whose result this one is compared with as its classical baseline: its own baseline run, or an
    earlier submission's simulator run (spec.baseline)."""
    run_id: str = Field(max_length=36, index=True)
    status: str = Field(default=JobStatus.QUEUED.value, max_length=16, index=True)
    vendor: str = Field(max_length=63)
    device: str = Field(max_length=63)
    shots: int
    qasm: str = Field(sa_type=Text)
    fallback: dict[str, Any] | None = Field(default=None, sa_type=JSON)
    credentials: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    seed_transpiler: int
    seed_simulator: int
    price_model: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    estimated_cost: Decimal = Field(default=Decimal("0"), sa_type=Numeric(14, 2))
    currency: str = Field(default="USD", max_length=3)
    vendor_job_id: str | None = Field(default=None, max_length=200)
    attempts: int = 0
    lease_owner: str | None = Field(default=None, max_length=100)
    lease_expires_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    cancel_requested: bool = False
    error: str | None = Field(default=None, sa_type=Text)
    reproduced: bool | None = None
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True), index=True)
    updated_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    started_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    finished_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class ResultRecord(SQLModel, table=True):
    """What a finished job produced, with a content hash so a reproduction can be compared to it."""

    __tablename__ = "results"

    job_id: str = Field(primary_key=True, foreign_key="jobs.id", max_length=36)
    submission_id: str = Field(index=True, max_length=36)
    device: str = Field(max_length=63)
    counts: dict[str, Any] = Field(sa_type=JSON)
    result_hash: str = Field(max_length=80)
    transpiled: dict[str, Any] = Field(default_factory=dict, sa_type=JSON)
    calibration_snapshot_id: str | None = Field(default=None, max_length=200)
    usage_seconds: float | None = None
    actual_cost: Decimal = Field(default=Decimal("0"), sa_type=Numeric(14, 2))
    currency: str = Field(default="USD", max_length=3)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class LedgerEntry(SQLModel, table=True):
    """One movement of a sandbox's money: a reservation when a submission is accepted, its release and the
    actual charge when the job ends."""

    __tablename__ = "ledger"

    id: int | None = Field(default=None, primary_key=True)
    sandbox_id: str = Field(foreign_key="sandboxes.id", index=True, max_length=200)
    submission_id: str = Field(max_length=36, index=True)
    kind: str = Field(max_length=16)
    amount: Decimal = Field(sa_type=Numeric(14, 2))
    currency: str = Field(max_length=3)
    note: str = Field(default="", sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class LineageOutboxEntry(SQLModel, table=True):
    """An OpenLineage event waiting for delivery, written in the same transaction as the change it describes."""

    __tablename__ = "lineage_outbox"

    id: int | None = Field(default=None, primary_key=True)
    run_id: str = Field(max_length=36, index=True)
    event_type: str = Field(max_length=16)
    event: str = Field(sa_type=Text)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    attempts: int = 0
    next_attempt_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    delivered_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True), index=True)
    last_error: str | None = Field(default=None, sa_type=Text)
    parked_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    """Set when delivery gave up after GOVERN_LINEAGE_MAX_ATTEMPTS; a parked event no longer holds back its run."""



class LineageEventRecord(SQLModel, table=True):
    """An OpenLineage run event as received, kept as canonical JSON for export; producers deliver at least
    once, so the hash of that JSON turns a redelivery into a no-op."""

    __tablename__ = "lineage_events"
    __table_args__ = (Index("ix_lineage_events_run_id", "run_id"),)

    id: int | None = Field(default=None, primary_key=True)
    event_hash: str = Field(max_length=64, unique=True)
    run_id: str = Field(max_length=36)
    event_type: str | None = Field(default=None, max_length=16)
    event_time: datetime = Field(sa_type=DateTime(timezone=True))
    job_namespace: str = Field(max_length=255)
    job_name: str = Field(max_length=1000)
    producer: str = Field(sa_type=Text)
    team: str | None = Field(default=None, max_length=63)
    payload: str = Field(sa_type=Text)
    received_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))


class LineageEdgeRecord(SQLModel, table=True):
    """A dataset a run read ('input') or wrote ('output'). The two covering indexes answer "who reads or
    writes dataset X" and "what does job J read or write" from the index alone; on SQLite the table is
    its primary key (WITHOUT ROWID), one B-tree fewer to update per edge."""

    __tablename__ = "lineage_io"
    __table_args__ = (
        Index("ix_lineage_io_dataset", "dataset_namespace", "dataset_name", "direction", "job_namespace", "job_name", "run_id"),
        Index("ix_lineage_io_job", "job_namespace", "job_name", "direction", "dataset_namespace", "dataset_name"),
        {"sqlite_with_rowid": False},
    )

    run_id: str = Field(primary_key=True, max_length=36)
    direction: str = Field(primary_key=True, max_length=6)
    dataset_namespace: str = Field(primary_key=True, max_length=255)
    dataset_name: str = Field(primary_key=True, max_length=1000)
    job_namespace: str = Field(max_length=255)
    job_name: str = Field(max_length=1000)


class LineageRunRecord(SQLModel, table=True):
    """A run as its events describe it: the state of the latest event by event time (events arrive out of
    order), its start and end, and the policy decision govern attached to it."""

    __tablename__ = "lineage_runs"
    __table_args__ = (Index("ix_lineage_runs_job", "job_namespace", "job_name", "state_time"), {"sqlite_with_rowid": False})

    run_id: str = Field(primary_key=True, max_length=36)
    job_namespace: str = Field(max_length=255)
    job_name: str = Field(max_length=1000)
    team: str | None = Field(default=None, max_length=63)
    state: str | None = Field(default=None, max_length=16)
    state_time: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    started_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    ended_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))
    parent_run_id: str | None = Field(default=None, max_length=36)
    decision_id: str | None = Field(default=None, max_length=64)
    allow: bool | None = None


class PolicyReloadRecord(SQLModel, table=True):
    """The latest `POST /v1/policy/reload`, one row: each server process loaded its bundle itself, so each
    polls `generation` and loads the configured bundle again when it has grown (a reload reaches all)."""

    __tablename__ = "policy_reloads"

    id: int = Field(default=1, primary_key=True)
    generation: int = 0
    bundle_revision: str | None = Field(default=None, max_length=200)
    reloaded_at: datetime | None = Field(default=None, sa_type=DateTime(timezone=True))


class PolicyBlobRecord(SQLModel, table=True):
    """A policy file's content, stored once by its SHA-256 however many revisions hold it (content-addressed)."""

    __tablename__ = "policy_blobs"

    sha256: str = Field(primary_key=True, max_length=64)
    content: bytes = Field(sa_type=LargeBinary)


class PolicyRevisionRecord(SQLModel, table=True):
    """A bundle revision that decided something: kept for good, so any decision can be replayed on it."""

    __tablename__ = "policy_revisions"

    revision: str = Field(primary_key=True, max_length=200)
    manifest_revision: str = Field(max_length=200)
    first_active_at: datetime = Field(sa_type=DateTime(timezone=True))
    last_active_at: datetime = Field(sa_type=DateTime(timezone=True))


class PolicyRevisionFileRecord(SQLModel, table=True):
    """One file of a revision (see govern.policy.bundle.BundleFile), its content in policy_blobs."""

    __tablename__ = "policy_revision_files"

    revision: str = Field(primary_key=True, foreign_key="policy_revisions.revision", max_length=200)
    kind: str = Field(primary_key=True, max_length=16)
    name: str = Field(primary_key=True, max_length=1000)
    module_path: str = Field(default="", sa_type=Text)
    origin: str = Field(default="", sa_type=Text)
    sha256: str = Field(foreign_key="policy_blobs.sha256", max_length=64)


class ConsoleSessionRecord(SQLModel, table=True):
    """A signed-in console session: the cookie holds a random id, only its SHA-256 is stored, with the API
    token it stands for (never the token's secret) and the CSRF token its forms carry."""

    __tablename__ = "console_sessions"

    id_hash: str = Field(primary_key=True, max_length=64)
    token_id: uuid.UUID = Field(foreign_key="api_tokens.id", index=True)
    csrf_token: str = Field(max_length=64)
    created_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    last_seen_at: datetime = Field(default_factory=utcnow, sa_type=DateTime(timezone=True))
    expires_at: datetime = Field(sa_type=DateTime(timezone=True), index=True)
