"""Submissions become OpenLineage runs that validate against the spec and govern's own facet schemas."""

from __future__ import annotations

import json
import uuid
from datetime import datetime, timedelta

import pytest
from jsonschema import Draft202012Validator
from openlineage.client.event_v2 import OutputDataset, RunState

from govern.lineage.facets import (
    SCHEMA_BASE_URL,
    SCHEMA_ROOT_URL,
    Circuit,
    GovernDataClassificationDatasetFacet,
    GovernPolicyDecisionRunFacet,
    GovernProcurementRunFacet,
    GovernQuantumJobRunFacet,
    facet_schema_dir,
    facet_schemas,
)
from govern.lineage.submission_events import PRODUCER, event_json, job_namespace, lifecycle_event, submission_event
from govern.manifest.schema import Experiment
from tests.conftest import EXAMPLES
from tests.lineage_schemas import validate_event

FACET_CLASSES = (
    GovernPolicyDecisionRunFacet,
    GovernDataClassificationDatasetFacet,
    GovernQuantumJobRunFacet,
    GovernProcurementRunFacet,
)
EXAMPLE_MANIFESTS = sorted(EXAMPLES.glob("*/*.yaml"))
TOKEN = "c2VjcmV0LXRva2VuLWRvLW5vdC1jb21taXQtOTk4ODc3"
"""The literal token examples/denied/secret-in-manifest.yaml carries on purpose."""


@pytest.fixture(scope="module")
def decide(engine, example_context, examples_now):
    """Experiment, circuit profile and decision for one shipped example, as `govern check` makes them."""
    from govern.check.checker import Checker
    from govern.manifest.documents import load_documents
    from govern.submission import submission_from_document

    checker = Checker(engine, example_context, now=examples_now)

    def decided(path):
        (document,) = [d for d in load_documents(EXAMPLES / path, 1_000_000) if d.kind == "Experiment"]
        submission = submission_from_document(document, 1_000_000)
        profile = checker.profile(submission)
        return submission.experiment, profile, engine.evaluate(checker.policy_input(submission, profile))

    return decided


def emitted(decided, *, experiment=None, run_id=None, event_time=None) -> dict:
    """The submission event for a decided example, serialized as it is stored and sent."""
    example_experiment, profile, decision = decided
    event = submission_event(
        run_id=run_id or str(uuid.uuid4()),
        experiment=experiment or example_experiment,
        decision=decision,
        profile=profile,
        event_time=event_time or decision.evaluated_at,
        producer=PRODUCER,
    )
    return json.loads(event_json(event))


def test_facet_schemas_are_valid_and_named_as_their_files_and_classes():
    paths = sorted(facet_schema_dir().glob("*.json"))
    assert sorted(p.stem for p in paths) == sorted(cls.__name__ for cls in FACET_CLASSES)
    schemas = facet_schemas()
    assert {f"{SCHEMA_BASE_URL}{cls.__name__}.json" for cls in FACET_CLASSES} <= set(schemas), "every 1-0-0 schema stays published"
    for cls in FACET_CLASSES:
        schema_id = cls._get_schema().split("#")[0]
        assert schema_id.startswith(SCHEMA_ROOT_URL) and schema_id.endswith(f"/{cls.__name__}.json")
        schema = schemas[schema_id]
        Draft202012Validator.check_schema(schema)
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert cls._get_schema() == f"{schema_id}#/$defs/{cls.__name__}"
        assert schema["properties"] == {cls.facet_key: {"$ref": f"#/$defs/{cls.__name__}"}}
        assert cls.facet_key.startswith("govern_")
        base = "DatasetFacet" if "Dataset" in cls.__name__ else "RunFacet"
        assert schema["$defs"][cls.__name__]["allOf"][0] == {
            "$ref": f"https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/{base}"
        }


def test_job_namespace_is_per_team():
    assert job_namespace("materials-rnd") == "govern.materials-rnd"


def test_allowed_submission_starts_a_valid_run(decide, examples_now):
    decided = decide("allowed/vqe-h2-ibm.yaml")
    run_id = str(uuid.uuid4())
    event = emitted(decided, run_id=run_id, event_time=examples_now)
    validate_event(event)
    assert event["eventType"] == "START"
    assert event["eventTime"] == "2026-11-24T12:00:00+00:00"
    assert event["run"]["runId"] == run_id
    assert event["producer"] == PRODUCER
    assert (event["job"]["namespace"], event["job"]["name"]) == ("govern.materials-rnd", "vqe-h2-sweep")
    assert [(o["namespace"], o["name"]) for o in event["outputs"]] == [("govern.materials-rnd", "vqe-h2-sweep/results")]
    job = event["job"]["facets"]
    assert job["jobType"]["jobType"] == "QUANTUM_EXPERIMENT"
    assert job["documentation"]["description"] == "H2 binding energy, hardware-efficient ansatz"
    assert {"name": "team:materials-rnd", "type": "team"} in job["ownership"]["owners"]
    run = event["run"]["facets"]
    _, profile, decision = decided
    assert run["govern_policyDecision"]["decisionId"] == decision.decision_id
    assert (run["govern_policyDecision"]["allow"], run["govern_policyDecision"]["outcome"]) == (True, "allowed")
    assert run["govern_quantumJob"]["circuit"]["sha256"] == profile.sha256
    assert run["govern_quantumJob"]["circuit"]["twoQubitDepth"] == profile.two_qubit_depth
    assert run["govern_procurement"] == {
        "_producer": PRODUCER,
        "_schemaURL": GovernProcurementRunFacet._get_schema(),
        "vendor": "ibm",
        "sandbox": "SBX-2026-014",
        "estimatedCost": decision.estimate["cost"],
        "currency": "USD",
    }
    assert run["processing_engine"]["name"] == "govern"


def test_denied_submission_aborts_the_run_with_its_decision(decide):
    event = emitted(decide("denied/pii-not-pseudonymized.yaml"))
    validate_event(event)
    assert event["eventType"] == "ABORT"
    assert event["outputs"] == []
    decision = event["run"]["facets"]["govern_policyDecision"]
    assert (decision["allow"], decision["outcome"], decision["ruleIds"]) == (False, "denied", ["DC-003"])
    (dataset,) = event["inputs"]
    assert (dataset["namespace"], dataset["name"]) == ("s3://crm-data", "customers/churn-features")
    classification = dataset["facets"]["govern_dataClassification"]
    assert classification["_schemaURL"] == GovernDataClassificationDatasetFacet._get_schema()
    assert {k: classification[k] for k in ("level", "containsPII", "pseudonymized", "residency")} == {
        "level": "internal", "containsPII": True, "pseudonymized": False, "residency": "us-east",
    }
    assert dataset["facets"]["dataSource"]["uri"] == "s3://crm-data"


def test_waived_denies_and_warnings_are_recorded(decide):
    event = emitted(decide("warned/qaoa-portfolio-eu-waived.yaml"))
    validate_event(event)
    decision = event["run"]["facets"]["govern_policyDecision"]
    assert event["eventType"] == "START"
    assert (decision["outcome"], decision["ruleIds"], decision["warnRuleIds"]) == ("warned", [], ["PR-101"])
    assert decision["waivers"] == [{"rule": "DC-004", "waiverId": "WVR-2026-007"}]


@pytest.mark.parametrize("path", EXAMPLE_MANIFESTS, ids=lambda p: f"{p.parent.name}/{p.stem}")
def test_every_example_is_a_valid_event_without_credentials_or_hyperparameters(decide, path):
    decided = decide(path.relative_to(EXAMPLES))
    text = json.dumps(emitted(decided))
    validate_event(json.loads(text))
    experiment = decided[0]
    assert "credentials" not in text and "hyperparameters" not in text
    for reference in experiment.spec.credentials.values():
        assert reference not in text
    for value in experiment.spec.hyperparameters.values():
        if isinstance(value, str):
            assert value not in text


def test_a_literal_secret_never_reaches_the_event(decide):
    text = json.dumps(emitted(decide("denied/secret-in-manifest.yaml")))
    assert TOKEN not in text


def test_secrets_in_free_text_are_redacted(decide):
    decided = decide("allowed/vqe-h2-ibm.yaml")
    manifest = decided[0].model_dump(mode="json", by_alias=True, exclude_none=True)
    manifest["spec"]["purpose"] = "uses AKIAIOSFODNN7EXAMPLE for S3"
    manifest["spec"]["source"] = {"url": "https://bob:hunter2@git.example.com/r.git", "path": "vqe", "version": "4f2a9c1"}
    event = emitted(decided, experiment=Experiment.model_validate(manifest))
    validate_event(event)
    text = json.dumps(event)
    assert "AKIAIOSFODNN7EXAMPLE" not in text and "hunter2" not in text
    source = event["job"]["facets"]["sourceCodeLocation"]
    assert (source["type"], source["path"], source["version"]) == ("git", "vqe", "4f2a9c1")


def test_source_location_is_carried_when_given(decide):
    decided = decide("allowed/vqe-h2-ibm.yaml")
    manifest = decided[0].model_dump(mode="json", by_alias=True, exclude_none=True)
    manifest["spec"]["source"] = {"url": "https://git.example.com/rnd/vqe.git", "version": "4f2a9c1"}
    event = emitted(decided, experiment=Experiment.model_validate(manifest))
    validate_event(event)
    source = event["job"]["facets"]["sourceCodeLocation"]
    assert (source["url"], source["version"]) == ("https://git.example.com/rnd/vqe.git", "4f2a9c1")


def test_failed_run_with_parent_and_error_is_valid(examples_now):
    run_id, parent_id = str(uuid.uuid4()), str(uuid.uuid4())
    namespace = job_namespace("materials-rnd")
    quantum_job = GovernQuantumJobRunFacet(
        vendor="local",
        device="aer_simulator",
        shots=1000,
        circuit=Circuit(
            format="qasm2", qubits=2, clbits=2, size=4, depth=3, twoQubitDepth=1, nonLocalGates=1,
            ops={"h": 1, "cx": 1, "measure": 2}, sha256="0" * 64,
        ),
        transpiled={"depth": 5, "ops": {"rz": 3, "sx": 2, "ecr": 1}},
        seedTranspiler=7,
        producer=PRODUCER,
    )
    event = lifecycle_event(
        event_type=RunState.FAIL,
        run_id=run_id,
        job_namespace=namespace,
        job_name="bell-local",
        event_time=examples_now + timedelta(minutes=3),
        producer=PRODUCER,
        run_facets={GovernQuantumJobRunFacet.facet_key: quantum_job},
        outputs=[OutputDataset(namespace=namespace, name="bell-local/results")],
        parent=(parent_id, namespace, "bell-local"),
        error_message="device unavailable",
    )
    data = json.loads(event_json(event))
    validate_event(data)
    assert (data["eventType"], data["run"]["runId"]) == ("FAIL", run_id)
    facets = data["run"]["facets"]
    assert facets["parent"]["run"]["runId"] == parent_id
    assert (facets["parent"]["job"]["namespace"], facets["parent"]["job"]["name"]) == (namespace, "bell-local")
    assert (facets["errorMessage"]["message"], facets["errorMessage"]["programmingLanguage"]) == (
        "device unavailable", "python",
    )
    assert facets["govern_quantumJob"]["seedTranspiler"] == 7


def test_running_event_carries_only_what_it_is_given():
    event = lifecycle_event(
        event_type=RunState.RUNNING,
        run_id=str(uuid.uuid4()),
        job_namespace="govern.materials-rnd",
        job_name="vqe-h2-sweep",
        event_time=datetime.fromisoformat("2026-11-24T12:01:00+00:00"),
        producer=PRODUCER,
    )
    data = json.loads(event_json(event))
    validate_event(data)
    assert data["run"].get("facets", {}) == {} and data["outputs"] == []


def test_an_unknown_schema_url_is_refused(decide):
    event = emitted(decide("allowed/bell-local.yaml"))
    event["run"]["facets"]["govern_policyDecision"]["_schemaURL"] = (
        "https://govern.dev/spec/facets/9-9-9/GovernPolicyDecisionRunFacet.json#/$defs/GovernPolicyDecisionRunFacet"
    )
    with pytest.raises(AssertionError, match="no known schema"):
        validate_event(event)


def test_a_facet_that_breaks_its_schema_is_refused(decide):
    event = emitted(decide("allowed/bell-local.yaml"))
    del event["run"]["facets"]["govern_quantumJob"]["circuit"]["sha256"]
    with pytest.raises(AssertionError, match="sha256"):
        validate_event(event)


@pytest.mark.slow
def test_the_service_serves_each_facet_schema_at_the_path_of_its_id(tmp_path):
    from urllib.parse import urlparse

    from fastapi.testclient import TestClient

    from govern.api import create_app
    from govern.lineage.facets import facet_schemas
    from govern.settings import Settings

    app = create_app(Settings(database_url=f"sqlite:///{tmp_path / 'govern.db'}", migrate_on_start=True, lineage_delivery=False))
    with TestClient(app) as client:
        for schema_id, schema in facet_schemas().items():
            served = client.get(urlparse(schema_id).path)
            assert served.status_code == 200 and served.json() == schema
        assert client.get("/spec/facets/1-0-0/NoSuchFacet.json").status_code == 404
