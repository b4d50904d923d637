"""OpenLineage events for submissions and their runs: pure functions from govern's values to client events.

The job is the experiment (namespace per team, name = `metadata.name`); its run id is fixed at submission.
An accepted submission starts the run, a denied one aborts it with the decision attached, and the
dispatcher reports the rest of the run's life with `lifecycle_event`.

Lineage is read widely, so an event holds no secret: manifest values come from the same redacted view
the policy engine sees, and credentials and hyperparameters are never copied at all.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from openlineage.client.event_v2 import InputDataset, Job, OutputDataset, Run, RunEvent, RunState
from openlineage.client.facet_v2 import (
    DatasetFacet,
    JobFacet,
    RunFacet,
    datasource_dataset,
    documentation_job,
    error_message_run,
    job_type_job,
    ownership_job,
    parent_run,
    processing_engine_run,
    source_code_location_job,
)
from openlineage.client.serde import Serde

from govern.circuit import CircuitProfile
from govern.distribution import installed_version
from govern.lineage.facets import (
    AppliedWaiver,
    Circuit,
    GovernDataClassificationDatasetFacet,
    GovernPolicyDecisionRunFacet,
    GovernProcurementRunFacet,
    GovernQuantumJobRunFacet,
)
from govern.manifest.schema import Experiment
from govern.policy.decision import Decision
from govern.policy.input import experiment_input
from govern.records.errors import as_utc
from govern.secrets import redacted


def govern_version() -> str:
    """The installed distribution's version; a source tree that was never installed has none."""
    return installed_version() or "0+unknown"


PRODUCER = f"https://github.com/govern-dev/govern/tree/v{govern_version()}"
"""The `producer` of govern's events and facets: the source of the release that wrote them."""


def job_namespace(team: str) -> str:
    return f"govern.{team}"


def submission_event(
    *,
    run_id: str,
    experiment: Experiment,
    decision: Decision,
    profile: CircuitProfile,
    event_time: datetime,
    producer: str,
) -> RunEvent:
    """START for an accepted submission, ABORT carrying the decision for a denied one.

    Both name the input datasets (a denied attempt to read data is lineage too); only a started run
    declares the results dataset it is going to write.
    """
    manifest = _manifest_without_secrets(experiment)
    metadata, spec = manifest["metadata"], manifest["spec"]
    namespace = job_namespace(metadata["team"])
    outputs = [OutputDataset(namespace=namespace, name=f"{metadata['name']}/results")] if decision.allow else []
    return RunEvent(
        eventType=RunState.START if decision.allow else RunState.ABORT,
        eventTime=_timestamp(event_time),
        run=Run(runId=run_id, facets=_submission_run_facets(spec, decision, profile, producer)),
        job=Job(namespace=namespace, name=metadata["name"], facets=_job_facets(metadata, spec, producer)),
        inputs=[_input_dataset(dataset, producer) for dataset in spec.get("datasets", [])],
        outputs=outputs,
        producer=producer,
    )


def lifecycle_event(
    *,
    event_type: RunState,
    run_id: str,
    job_namespace: str,
    job_name: str,
    event_time: datetime,
    producer: str,
    run_facets: dict[str, Any] | None = None,
    outputs: Iterable[OutputDataset] | None = None,
    parent: tuple[str, str, str] | None = None,
    error_message: str | None = None,
) -> RunEvent:
    """A later event of a submitted run (RUNNING, COMPLETE, FAIL…), as the dispatcher sees it.

    `parent` is (run id, job namespace, job name) of the run that spawned this one, such as a fallback
    run started for its original. `run_facets` holds client facets or, carried over from a stored event, the
    dictionaries they were serialised to.
    """
    facets: dict[str, Any] = dict(run_facets or {})
    if parent is not None:
        parent_run_id, parent_namespace, parent_name = parent
        facets["parent"] = parent_run.ParentRunFacet(
            run=parent_run.Run(runId=parent_run_id),
            job=parent_run.Job(namespace=parent_namespace, name=parent_name),
            producer=producer,
        )
    if error_message is not None:
        facets["errorMessage"] = error_message_run.ErrorMessageRunFacet(
            message=error_message, programmingLanguage="python", producer=producer
        )
    return RunEvent(
        eventType=event_type,
        eventTime=_timestamp(event_time),
        run=Run(runId=run_id, facets=facets),
        job=Job(namespace=job_namespace, name=job_name),
        outputs=list(outputs or []),
        producer=producer,
    )


def event_json(event: RunEvent) -> str:
    """The event as OpenLineage JSON: camelCase keys, nulls left out."""
    return Serde.to_json(event)


def _manifest_without_secrets(experiment: Experiment) -> dict[str, Any]:
    """The manifest (camelCase) with every secret the scanner finds replaced, as the engine saw it."""
    manifest: dict[str, Any] = redacted(experiment_input(experiment))[0]
    return manifest


def _timestamp(moment: datetime) -> str:
    return as_utc(moment).isoformat()


def _job_facets(metadata: dict[str, Any], spec: dict[str, Any], producer: str) -> dict[str, JobFacet]:
    facets: dict[str, JobFacet] = {
        "jobType": job_type_job.JobTypeJobFacet(
            processingType="BATCH", integration="GOVERN", jobType="QUANTUM_EXPERIMENT", producer=producer
        ),
        "ownership": ownership_job.OwnershipJobFacet(
            owners=[
                ownership_job.Owner(name=f"team:{metadata['team']}", type="team"),
                ownership_job.Owner(name=f"user:{metadata['owner']}", type="maintainer"),
            ],
            producer=producer,
        ),
        "documentation": documentation_job.DocumentationJobFacet(description=spec["purpose"], producer=producer),
    }
    source = spec.get("source")
    if source:
        facets["sourceCodeLocation"] = source_code_location_job.SourceCodeLocationJobFacet(
            type=source["type"],
            url=source["url"],
            repoUrl=source["url"],
            path=source.get("path"),
            version=source.get("version"),
            producer=producer,
        )
    return facets


def _submission_run_facets(
    spec: dict[str, Any], decision: Decision, profile: CircuitProfile, producer: str
) -> dict[str, RunFacet]:
    backend = spec["backend"]
    return {
        "processing_engine": processing_engine_run.ProcessingEngineRunFacet(
            name="govern", version=govern_version(), producer=producer
        ),
        GovernPolicyDecisionRunFacet.facet_key: policy_decision_facet(decision, producer),
        GovernQuantumJobRunFacet.facet_key: GovernQuantumJobRunFacet(
            vendor=backend["vendor"],
            device=backend["device"],
            shots=spec["shots"],
            circuit=Circuit(**profile.model_dump(mode="json", by_alias=True)),
            producer=producer,
        ),
        GovernProcurementRunFacet.facet_key: GovernProcurementRunFacet(
            vendor=backend["vendor"],
            sandbox=spec.get("sandbox"),
            estimatedCost=float(decision.estimate.get("cost", 0)),
            currency=str(decision.estimate.get("currency", "USD")),
            producer=producer,
        ),
    }


def policy_decision_facet(decision: Decision, producer: str) -> GovernPolicyDecisionRunFacet:
    """The decision as lineage carries it: rule ids and reproducibility facts, never finding messages."""
    return GovernPolicyDecisionRunFacet(
        decisionId=decision.decision_id,
        allow=decision.allow,
        outcome=decision.outcome.value,
        ruleIds=_unique(finding.rule for finding in decision.deny),
        warnRuleIds=_unique(finding.rule for finding in decision.warn),
        bundleRevision=decision.bundle_revision,
        inputHash=decision.input_hash,
        engine=decision.engine,
        waivers=[
            AppliedWaiver(rule=finding.rule, waiverId=str(finding.waiver["id"]))
            for finding in decision.waived
            if finding.waiver and "id" in finding.waiver
        ],
        evaluatedAt=_timestamp(decision.evaluated_at),
        producer=producer,
    )


def _unique(rule_ids: Iterable[str]) -> list[str]:
    """A rule that fired for several resources is listed once, in first-seen order."""
    return list(dict.fromkeys(rule_ids))


def _input_dataset(dataset: dict[str, Any], producer: str) -> InputDataset:
    namespace = dataset["namespace"]
    facets: dict[str, DatasetFacet] = {
        "dataSource": datasource_dataset.DatasourceDatasetFacet(
            name=namespace, uri=namespace if "://" in namespace else None, producer=producer
        ),
        GovernDataClassificationDatasetFacet.facet_key: GovernDataClassificationDatasetFacet(
            level=dataset["classification"],
            containsPII=dataset["containsPII"],
            pseudonymized=dataset["pseudonymized"],
            residency=dataset.get("region"),
            producer=producer,
        ),
    }
    return InputDataset(namespace=namespace, name=dataset["name"], facets=facets)
