"""Lineage for dispatched runs: RUNNING, COMPLETE (with output statistics), FAIL (with errorMessage) and
ABORT, and the START of a fallback, reproduction or baseline run, whose parent facet points at the run it
derives from.

Each event builds on the run's START event as queued at submission (the outbox keeps it), so the job,
its datasets and the circuit profile are told once and stay the same for every event of the run.
"""

from __future__ import annotations

import json
from typing import Any

from openlineage.client.event_v2 import OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import output_statistics_output_dataset, parent_run, schema_dataset, tags_run
from sqlmodel import Session, col, select

from govern.backends.base import Execution
from govern.db.tables import JobRecord, LineageOutboxEntry, utcnow
from govern.lineage.facets import GovernPolicyDecisionRunFacet, GovernProcurementRunFacet, GovernQuantumJobRunFacet
from govern.lineage.outbox import stored_event
from govern.lineage.submission_events import PRODUCER, lifecycle_event, policy_decision_facet
from govern.policy.decision import Decision


def started(session: Session, run_id: str) -> dict[str, Any]:
    """The START event of a run, as JSON (every dispatched run has one: submission or fallback queued it)."""
    text = session.exec(
        select(LineageOutboxEntry.event).where(LineageOutboxEntry.run_id == run_id, LineageOutboxEntry.event_type == "START")
        .order_by(col(LineageOutboxEntry.id))
    ).first()
    if text is None:
        raise LookupError(f"run {run_id} has no START event in the lineage outbox")
    start: dict[str, Any] = json.loads(text)
    return start


def _job(start: dict[str, Any]) -> tuple[str, str]:
    return start["job"]["namespace"], start["job"]["name"]


def _results_schema() -> schema_dataset.SchemaDatasetFacet:
    """The results dataset's shape: one row per measured outcome."""
    return schema_dataset.SchemaDatasetFacet(
        fields=[
            schema_dataset.SchemaDatasetFacetFields(name="bitstring", type="STRING", description="measured outcome, all classical registers joined"),
            schema_dataset.SchemaDatasetFacetFields(name="count", type="INTEGER", description="shots that gave this outcome"),
        ],
        producer=PRODUCER,
    )


def _outputs(start: dict[str, Any], rows: int) -> list[OutputDataset]:
    statistics = output_statistics_output_dataset.OutputStatisticsOutputDatasetFacet(rowCount=rows, producer=PRODUCER)
    return [OutputDataset(namespace=d["namespace"], name=d["name"], facets={"schema": _results_schema()},
                          outputFacets={"outputStatistics": statistics}) for d in start.get("outputs", [])]


def running(start: dict[str, Any], job: JobRecord) -> RunEvent:
    namespace, name = _job(start)
    return lifecycle_event(event_type=RunState.RUNNING, run_id=job.run_id, job_namespace=namespace, job_name=name,
                           event_time=utcnow(), producer=PRODUCER)


def complete(start: dict[str, Any], job: JobRecord, execution: Execution, actual_cost: float) -> RunEvent:
    """COMPLETE: the transpiled circuit, seeds and calibration snapshot, the actual cost, and the results
    dataset's statistics (rows = distinct outcomes measured)."""
    namespace, name = _job(start)
    facets = start["run"].get("facets", {})
    quantum = {**facets.get(GovernQuantumJobRunFacet.facet_key, {}), "_producer": PRODUCER,
               "transpiled": execution.transpiled, "seedTranspiler": execution.seed_transpiler,
               "seedSimulator": execution.seed_simulator}
    if execution.calibration_snapshot_id:
        quantum["calibrationSnapshotId"] = execution.calibration_snapshot_id
    procurement = {**facets.get(GovernProcurementRunFacet.facet_key, {}), "_producer": PRODUCER, "actualCost": actual_cost}
    return lifecycle_event(
        event_type=RunState.COMPLETE, run_id=job.run_id, job_namespace=namespace, job_name=name, event_time=utcnow(),
        producer=PRODUCER, outputs=_outputs(start, rows=len(execution.counts)),
        run_facets={GovernQuantumJobRunFacet.facet_key: quantum, GovernProcurementRunFacet.facet_key: procurement},
    )


def ended(start: dict[str, Any], job: JobRecord, event_type: RunState, reason: str) -> RunEvent:
    """FAIL (the run failed) or ABORT (cancelled, or handed to a fallback), with the reason, and who pays as
    START said (so the pilot's state can ride on it: govern.lineage.pilot_state)."""
    namespace, name = _job(start)
    procurement = start["run"].get("facets", {}).get(GovernProcurementRunFacet.facet_key)
    run_facets = {GovernProcurementRunFacet.facet_key: {**procurement, "_producer": PRODUCER}} if procurement else None
    return lifecycle_event(event_type=event_type, run_id=job.run_id, job_namespace=namespace, job_name=name,
                           event_time=utcnow(), producer=PRODUCER, error_message=reason, run_facets=run_facets)


def child_start(original_start: dict[str, Any], original: JobRecord, child: JobRecord, decision: Decision | None = None) -> RunEvent:
    """START of a run derived from another (a fallback, a reproduction, a baseline): the same experiment and
    datasets on the child's device, with a parent facet naming the original run, a tags facet saying which
    kind of run it is (govern.jobKind), and the decision that allowed the child where it had one of its own
    (a reproduction's)."""
    event = stored_event(json.dumps(original_start))
    namespace, name = _job(original_start)
    facets: dict[str, Any] = dict(event.run.facets or {})
    facets["parent"] = parent_run.ParentRunFacet(
        run=parent_run.Run(runId=original.run_id), job=parent_run.Job(namespace=namespace, name=name), producer=PRODUCER
    )
    facets["tags"] = tags_run.TagsRunFacet(tags=[tags_run.TagsRunFacetFields(key="govern.jobKind", value=child.kind, source="govern")],
                                           producer=PRODUCER)
    if decision is not None:
        facets[GovernPolicyDecisionRunFacet.facet_key] = policy_decision_facet(decision, PRODUCER)
    quantum, procurement = GovernQuantumJobRunFacet.facet_key, GovernProcurementRunFacet.facet_key
    if quantum in facets:
        facets[quantum] = {**facets[quantum], "_producer": PRODUCER, "vendor": child.vendor, "device": child.device}
    if procurement in facets:
        facets[procurement] = {**facets[procurement], "_producer": PRODUCER, "vendor": child.vendor,
                               "estimatedCost": float(child.estimated_cost)}
    return RunEvent(eventType=RunState.START, eventTime=utcnow().isoformat(), run=Run(runId=child.run_id, facets=facets),
                    job=event.job, inputs=event.inputs, outputs=event.outputs, producer=PRODUCER)
