"""The console benchmark's history: procurement records, waivers, `decisions` decision-log records of which
`runs` are submissions with their dispatch jobs in every state, results, ledger entries and lineage.

What goes through the real paths: vendors, sandboxes and waivers (govern.records.procurement and .waivers,
so request → approve/reject/revoke); each distinct submission decided as the service decides it
(`evaluate_on_live_context` on those records, circuits profiled by the checker); every decision appended by
`govern.audit.log.append`; lineage stored by the lineage store's own bulk load (`ingest_many`). Running
10,000 submissions through `submit` and a dispatch worker would take most of an hour on 2 cores, so a run's
rows are made by the functions those paths call, in the order they call them: `SubmissionRecord` as `submit`
builds it, `new_job`, `record_reservation`, `outbox.enqueue` of `submission_event`; then, as the worker
books each step, `settle`, `record_result` / `record_no_result`, `fallback_job`, `queue_reproduction` and the
run events of govern.lineage.run_events. Only the times are the seed's own: submissions spread over a
quarter, each job's steps minutes apart (the decision log's `recorded_at` is the time of appending, as
always). Seeding commits a thousand decisions at a time, interleaving submissions among checks, so a seed
that was stopped goes on from the records it holds.
"""

from __future__ import annotations

import copy
import json
import random
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

from bench_impact import EXAMPLES, examples
from openlineage.client.event_v2 import RunEvent, RunState
from openlineage.client.serde import Serde
from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlmodel import Session

from govern.admission.reservations import record_reservation, recordable_cost
from govern.admission.transaction import evaluate_on_live_context, request_hash
from govern.audit.log import append
from govern.backends.base import Execution
from govern.backends.checks import result_hash
from govern.check.checker import Checker
from govern.circuit import CircuitProfile
from govern.db.database import session_scope
from govern.db.public import MAX_PILOT, SandboxRequest, VendorUpsert, WaiverRequest
from govern.db.tables import (
    DecisionRecord,
    JobRecord,
    JobStatus,
    LineageOutboxEntry,
    SandboxRecord,
    SubmissionRecord,
    table_of,
)
from govern.dispatch.control import queue_reproduction
from govern.dispatch.costs import settle
from govern.dispatch.fallback import fallback_job
from govern.dispatch.jobs import new_job
from govern.dispatch.results import record_no_result, record_result
from govern.lineage import outbox
from govern.lineage import run_events as events
from govern.lineage.store.write import ingest_many
from govern.lineage.submission_events import PRODUCER, submission_event
from govern.manifest.documents import Document, load_one
from govern.manifest.schema import Context
from govern.policy.bundle import PolicyBundle
from govern.policy.decision import Decision
from govern.policy.engines.embedded import RegorusEngine
from govern.records.policy_revisions import store_revision
from govern.records.procurement import decide_sandbox, list_vendors, request_sandbox, upsert_vendor
from govern.records.waivers import change_waiver, request_waiver
from govern.submission import Submission, submission_from_request

TEAMS = ("materials-rnd", "quantum-finance", "chem-ai", "optimization-lab", "platform-qa", "optics", "bio-fold", "ml-kernels")
DEVICES = {"ibm": ["ibm_brisbane", "ibm_torino", "ibm_fez"], "aws-braket": ["ionq_aria", "iqm_garnet", "rigetti_ankaa_3"],
           "ionq": ["ionq_forte", "ionq_simulator"]}
FATES = (("queued", 8), ("running", 7), ("succeeded", 60), ("failed", 10), ("fallback", 15))
QUARTER = timedelta(days=90)
MIX = {"allowed": 0.55, "warned": 0.15, "denied": 0.30}


@dataclass(frozen=True)
class Template:
    """One distinct submission, decided once; each run recorded from it has its own ids and times."""

    submission: Submission
    profile: CircuitProfile
    policy_input: dict[str, Any]
    decision: Decision
    request_hash: str


def seeded_counts(db: Engine) -> tuple[int, int]:
    """(decision-log records, submissions) the database holds."""
    with Session(db) as session:
        decisions = session.execute(select(func.count()).select_from(DecisionRecord)).scalar_one()
        runs = session.execute(select(func.count()).select_from(SubmissionRecord)).scalar_one()
    return decisions, runs


def records(db: Engine, bundle: PolicyBundle, now: datetime) -> None:
    """Vendors, a sandbox per team and vendor (most approved; one of each other state) beside the examples'
    own, and waivers in each state; once per database."""
    context = load_one(EXAMPLES / "context.yaml", Context, "Context", 1_000_000)
    with session_scope(db) as session:
        store_revision(session, bundle)  # kept, as the service keeps it, so each record can be replayed
        if list_vendors(session):
            return
        for vendor in context.spec.vendors:
            upsert_vendor(session, vendor.name, VendorUpsert(approved=vendor.approved, data_processing_agreement=vendor.data_processing_agreement, regions=vendor.regions))
        for sandbox in context.spec.sandboxes:
            if sandbox.end - sandbox.start > MAX_PILOT:
                continue  # the example of a pilot too long, which no request can make
            request = SandboxRequest(id=sandbox.id, team=sandbox.team, vendor=sandbox.vendor, devices=sandbox.devices, start=sandbox.start,
                                     end=sandbox.end, budget=Decimal(str(sandbox.budget)), allows_confidential=sandbox.allows_confidential)
            request_sandbox(session, request, sandbox.requested_by)
            decide_sandbox(session, sandbox.id, "approve", sandbox.approved_by or "procurement-lead@example.com")
        others = {0: "requested", 1: "reject", 2: "revoke"}
        for index, team in enumerate(TEAMS):
            for vendor, devices in DEVICES.items():
                sandbox_id = f"SBX-{team}-{vendor}"
                request = SandboxRequest(id=sandbox_id, team=team, vendor=vendor, devices=devices, start=now - timedelta(days=50),
                                         end=now + timedelta(days=30), budget=Decimal("250000"), allows_confidential=index % 2 == 0)
                request_sandbox(session, request, f"lead@{team}.example.com")
                action = others.get(index, "approve") if vendor == "ionq" else "approve"
                if action in ("approve", "revoke", "reject"):
                    decide_sandbox(session, sandbox_id, "reject" if action == "reject" else "approve", "procurement-lead@example.com")
                if action == "revoke":
                    decide_sandbox(session, sandbox_id, "revoke", "procurement-lead@example.com")
        waivable = sorted(rule for rule, entry in bundle.catalogue.items() if entry.get("waivable") is True)
        for index, team in enumerate(TEAMS):
            for state, rule in zip(("approved", "requested", "revoked"), waivable[index % len(waivable):] + waivable, strict=False):
                request = WaiverRequest(rule=rule, team=team, reason=f"benchmark waiver of {rule} for {team}'s pilot",
                                        expires=now + timedelta(days=10 + index))
                waiver = request_waiver(session, request, f"lead@{team}.example.com", bundle.catalogue)
                if state != "requested":
                    change_waiver(session, waiver.id, "approved", "compliance@example.com")
                if state == "revoked":
                    change_waiver(session, waiver.id, "revoked", "compliance@example.com")


def templates(db: Engine, engine: RegorusEngine, count: int, rng: random.Random) -> list[Template]:
    """`count` submissions varied from the examples (team, shots, the team's own sandbox), each decided on the
    live context as the service decides it; drawn until the outcomes are mixed as `MIX` says (the examples
    alone are mostly denials), with the rules the examples fire."""
    bases = examples()
    checker = Checker(engine)
    wanted = {outcome: max(1, round(count * share)) for outcome, share in MIX.items()}
    found: list[Template] = []
    with Session(db) as session:
        for _ in range(8 * count):
            if len(found) >= count:
                break
            manifest, circuit = copy.deepcopy(rng.choice(bases))
            spec = manifest["spec"]
            if rng.random() < 0.7:
                team = manifest["metadata"]["team"] = rng.choice(TEAMS)
                if spec.get("sandbox") and spec["backend"]["vendor"] in DEVICES and rng.random() < 0.85:
                    spec["sandbox"] = f"SBX-{team}-{spec['backend']['vendor']}"
            spec["shots"] = rng.choice((100, 1000, 2048, 4000, spec["shots"], spec["shots"]))
            submission = submission_from_request(Document("manifest", 0, manifest, {}), circuit, 1_000_000)
            profile = checker.profile(submission)
            evaluation = evaluate_on_live_context(session, checker, engine, submission, profile, lock_sandbox=False)
            outcome = evaluation.decision.outcome.value
            if wanted.get(outcome, 0) > 0:
                wanted[outcome] -= 1
                found.append(Template(submission, profile, evaluation.policy_input, evaluation.decision, request_hash(manifest, circuit)))
    return found


class RunWriter:
    """Writes one run's rows and events the way admission and the dispatch worker write them."""

    def __init__(self, session: Session, bundle: PolicyBundle, rng: random.Random, now: datetime):
        self.session, self.bundle, self.rng, self.now = session, bundle, rng, now
        self.lineage: list[dict[str, Any]] = []
        self.appended = 0
        """Decisions appended here (a reproduction's), besides the submissions' the caller appends."""

    def _id(self) -> str:
        return str(uuid.UUID(int=self.rng.getrandbits(128), version=4))

    def _emit(self, event: RunEvent, at: datetime) -> dict[str, Any]:
        event.eventTime = at.isoformat()
        outbox.enqueue(self.session, event)
        stored: dict[str, Any] = json.loads(Serde.to_json(event))
        self.lineage.append(stored)
        return stored

    def _later(self, moment: datetime, most_s: float) -> datetime:
        return min(self.now, moment + timedelta(seconds=self.rng.uniform(5, most_s)))

    def submission(self, template: Template, may_reproduce: bool) -> Decision | None:
        """The submission, its decision (returned for the caller to append last, as `submit` does), and for
        an allowed one its job's life; a reproduction's decision is appended here, after the run's."""
        session, experiment = self.session, template.submission.experiment
        decision = template.decision.model_copy(update={"decision_id": self._id()})
        when = self.now - self.rng.uniform(0, 1) * QUARTER
        cost = recordable_cost(decision.estimate.get("cost", 0))
        sandbox = template.policy_input["experiment"]["spec"].get("sandbox")
        row = SubmissionRecord(
            id=self._id(), team=experiment.metadata.team, name=experiment.metadata.name, created_by=f"bench-{experiment.metadata.team}",
            request_hash=template.request_hash, decision_id=decision.decision_id, outcome=decision.outcome.value, sandbox=sandbox,
            estimated_cost=cost, currency=str(decision.estimate.get("currency", "USD")), circuit_sha256=template.profile.sha256,
            run_id=self._id(), created_at=when,
        )
        session.add(row)
        session.flush()  # as `submit` does: the job's foreign key needs the row
        start = self._emit(submission_event(run_id=row.run_id, experiment=experiment, decision=decision, profile=template.profile,
                                            event_time=when, producer=PRODUCER), when)
        if not decision.allow:
            return decision
        job = new_job(submission_id=row.id, run_id=row.run_id, experiment=experiment, qasm=template.submission.circuit_text,
                      bundle_data=self.bundle.data, estimated_cost=cost, currency=row.currency,
                      decided_price_model=decision.estimate.get("priceModel"))
        job.created_at = job.updated_at = when
        session.add(job)
        held = cost if decision.estimate.get("paid") else Decimal("0")
        if sandbox and held:
            sandboxes = table_of(SandboxRecord)
            session.execute(update(sandboxes).where(sandboxes.c.id == sandbox).values(reserved=sandboxes.c.reserved + held))
            record_reservation(session, sandbox, row.id, held, row.currency)
        fate = self.rng.choices([name for name, _ in FATES], [weight for _, weight in FATES])[0]
        if fate == "fallback" and not job.fallback:
            fate = "succeeded"
        self._life(job, start, fate)
        if fate == "succeeded" and may_reproduce and job.vendor == "local" and self.rng.random() < 0.2:
            self._reproduce(job, start, template)
        return decision

    def _life(self, job: JobRecord, start: dict[str, Any], fate: str) -> None:
        if fate == "queued":
            return
        job.started_at = self._later(job.created_at, 1800)
        job.vendor_job_id, job.attempts = f"bench-{self._id()}", 1
        if fate != "fallback":
            self._emit(events.running(start, job), job.started_at)
            job.status = JobStatus.RUNNING.value
        if fate == "running":
            return
        job.finished_at = job.updated_at = self._later(job.started_at, 1200)
        if fate == "succeeded":
            self._succeed(job, start)
        elif fate == "failed":
            job.status, job.error = JobStatus.FAILED.value, "the device reported a calibration fault and gave no result"
            settle(self.session, job, None, ran=False)
            record_no_result(job)
            self._emit(events.ended(start, job, RunState.FAIL, job.error), job.finished_at)
        else:
            child = fallback_job(job)
            job.status, job.error = JobStatus.FALLBACK.value, f"{job.vendor}/{job.device} is unavailable: maintenance window"
            settle(self.session, job, None, ran=False)
            self.session.add(child)
            self._emit(events.ended(start, job, RunState.ABORT, f"falling back to {child.vendor}/{child.device}: {job.error}"), job.finished_at)
            child.created_at = job.finished_at
            child_start = self._emit(events.child_start(start, job, child), job.finished_at)
            self._life(child, child_start, "succeeded")

    def _succeed(self, job: JobRecord, start: dict[str, Any]) -> None:
        """Counts that follow from the job's seeds, as a simulator's do (so most reproductions match)."""
        drawn = random.Random(job.seed_simulator * 31 + job.shots + (self.rng.random() < 0.1))
        width = drawn.randint(2, 5)
        outcomes = sorted({"0" * width, "1" * width, *(format(drawn.getrandbits(width), f"0{width}b") for _ in range(3))})
        counts = dict.fromkeys(outcomes, 0)
        for _ in range(min(job.shots, 64)):
            counts[drawn.choice(outcomes)] += 1
        scale = job.shots / max(1, sum(counts.values()))
        counts = {bits: round(count * scale) for bits, count in counts.items()}
        transpiled = {"qubits": width, "physicalQubits": list(range(width)), "depth": 4 * width, "size": 6 * width,
                      "twoQubitDepth": width - 1, "ops": {"rz": 2 * width, "sx": width, "ecr": width - 1, "measure": width}}
        usage = None if job.vendor == "local" else round(self.rng.uniform(2, 30), 2)
        digest = result_hash(counts=counts, device=job.device, shots=job.shots, seed_transpiler=job.seed_transpiler,
                             seed_simulator=job.seed_simulator, calibration_snapshot_id=None)
        execution = Execution(vendor_job_id=job.vendor_job_id or "", device=job.device, counts=counts, transpiled=transpiled,
                              seed_transpiler=job.seed_transpiler, seed_simulator=job.seed_simulator, calibration_snapshot_id=None,
                              usage_seconds=usage, result_hash=digest)
        self.session.flush()  # settle and a reproduction read what is booked so far
        charge = settle(self.session, job, usage, ran=True)
        record_result(self.session, job, execution, charge)
        job.status = JobStatus.SUCCEEDED.value
        self._emit(events.complete(start, job, execution, float(charge)), job.finished_at or self.now)

    def _reproduce(self, original: JobRecord, start: dict[str, Any], template: Template) -> None:
        self.session.flush()
        decision = template.decision.model_copy(update={"decision_id": self._id()})
        queued = queue_reproduction(self.session, original, Decimal("0"), decision)
        child = self.session.get(JobRecord, queued.id)
        assert child is not None
        child.created_at = self._later(original.finished_at or self.now, 86_400)
        child_start = json.loads(self.session.execute(select(LineageOutboxEntry.event).where(LineageOutboxEntry.run_id == child.run_id)).scalar_one())
        self.lineage.append(child_start)
        self._life(child, child_start, "succeeded")
        append(self.session, decision, template.policy_input, actor=f"bench-{template.submission.experiment.metadata.team}", kind="reproduce")
        self.appended += 1


def is_run(index: int, decisions: int, runs: int) -> bool:
    """Whether the decision at `index` is a submission's: `runs` of them spread evenly among `decisions`."""
    return (index + 1) * runs // decisions > index * runs // decisions


def seed(db: Engine, bundle: PolicyBundle, engine: RegorusEngine, decisions: int, runs: int, distinct: int,
         progress: Callable[[int, int], None] | None) -> None:
    now = datetime.now(UTC)
    records(db, bundle, now)
    chosen = templates(db, engine, min(distinct, max(runs, 1)), random.Random(16))
    done, _ = seeded_counts(db)
    while done < decisions:
        rng = random.Random(done)
        with session_scope(db) as session:
            writer = RunWriter(session, bundle, rng, now)
            index = done
            while index < min(done + 1000, decisions):
                template = rng.choice(chosen)
                if is_run(index, decisions, runs):
                    reproducible = index + 2 < decisions and not is_run(index + 1, decisions, runs)
                    decision = writer.submission(template, reproducible)
                    if decision is not None:
                        append(session, decision, template.policy_input, actor=f"bench-{template.submission.experiment.metadata.team}", kind="submission")
                    index += 1 + writer.appended
                    writer.appended = 0
                    continue
                check = template.decision.model_copy(update={"decision_id": writer._id()})
                append(session, check, template.policy_input, actor=f"bench-ci-{template.submission.experiment.metadata.team}", kind="check")
                index += 1
            session.execute(update(table_of(LineageOutboxEntry)).where(table_of(LineageOutboxEntry).c.delivered_at.is_(None)).values(delivered_at=now))
        with Session(db) as session:  # the deliverer's part: the run events, delivered into govern's own lineage store
            ingest_many(session, writer.lineage)
        done = index
        if progress is not None:
            progress(done, decisions)

