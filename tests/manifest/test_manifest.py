"""Manifest validation: unknown fields, malformed documents and bad values name the file, field and line:col."""

from __future__ import annotations

import textwrap

import pytest

from govern.errors import InputError
from govern.manifest.documents import parse_documents
from govern.manifest.schema import Context, Experiment, epoch_ns

VALID = textwrap.dedent(
    """\
    apiVersion: govern/v1
    kind: Experiment
    metadata:
      name: vqe-h2-sweep
      team: materials-rnd
      owner: alice@example.com
      labels: {costCenter: CC-1042}
    spec:
      purpose: "H2 binding energy"
      circuit: {path: circuits/vqe_h2.qasm}
      backend: {vendor: ibm, device: ibm_brisbane, region: us-east}
      shots: 4000
      sandbox: SBX-2026-014
      datasets:
        - {namespace: s3://rnd-data, name: molecules/h2, classification: internal, containsPII: false, region: us-east}
      hyperparameters: {optimizer: COBYLA, maxiter: 200, seed: 7}
      fallback: {device: aer_simulator, on: [unavailable, queue_minutes_over: 120]}
      credentials: {token: env:IBM_QUANTUM_TOKEN}
    """
)


def validate(text: str) -> Experiment:
    (document,) = parse_documents(text, "exp.yaml")
    return document.validate(Experiment)


def error_of(text: str) -> InputError:
    with pytest.raises(InputError) as caught:
        validate(text)
    return caught.value


def test_valid_manifest_round_trips_with_camel_case_fields():
    experiment = validate(VALID)
    assert experiment.metadata.labels == {"costCenter": "CC-1042"}
    assert experiment.spec.datasets[0].contains_pii is False
    assert experiment.spec.fallback.on[1].queue_minutes_over == 120
    dumped = experiment.model_dump(by_alias=True, exclude_none=True)
    assert dumped["spec"]["datasets"][0]["containsPII"] is False


def test_unknown_field_is_an_error_with_its_line_and_column():
    error = error_of(VALID.replace("  shots: 4000", "  shots: 4000\n  shotz: 10"))
    (problem,) = error.problems
    assert problem.field == "spec.shotz"
    assert (problem.line, problem.column) == (13, 3)
    assert "unknown field" in problem.message
    assert "exp.yaml:13:3: spec.shotz: unknown field" in error.describe()


def test_typo_in_nested_dataset_field_is_caught():
    error = error_of(VALID.replace("containsPII: false", "containsPll: false"))
    assert error.problems[0].field == "spec.datasets[0].containsPll"


def test_bad_values_name_each_field():
    text = VALID.replace("classification: internal", "classification: secret").replace("shots: 4000", "shots: 0")
    fields = {p.field for p in error_of(text).problems}
    assert fields == {"spec.shots", "spec.datasets[0].classification"}


def test_name_must_be_a_dns_label():
    error = error_of(VALID.replace("name: vqe-h2-sweep", "name: VQE_H2"))
    assert error.problems[0].field == "metadata.name"


def test_circuit_needs_exactly_one_of_path_or_qasm():
    error = error_of(VALID.replace("circuit: {path: circuits/vqe_h2.qasm}", "circuit: {}"))
    assert error.problems[0].field == "spec.circuit"
    assert "exactly one" in error.problems[0].message


def test_malformed_yaml_reports_line_and_column():
    with pytest.raises(InputError) as caught:
        parse_documents("apiVersion: govern/v1\nkind: Experiment\nmetadata: {name: [x\n", "bad.yaml")
    problem = caught.value.problems[0]
    assert problem.line is not None and problem.column is not None
    assert "malformed" in problem.message


def test_yaml_1_1_booleans_stay_strings():
    (document,) = parse_documents("on: [no, yes, off]\nflag: true\n", "x.yaml")
    assert document.data == {"on": ["no", "yes", "off"], "flag": True}


def test_duplicate_keys_are_refused():
    with pytest.raises(InputError) as caught:
        parse_documents("kind: Experiment\nkind: Context\n", "dup.yaml")
    assert caught.value.problems[0].field == "kind"
    assert caught.value.problems[0].line == 2


def test_json_manifests_are_read_too():
    import json

    document = json.dumps(parse_documents(VALID, "exp.yaml")[0].data)
    assert validate(document).metadata.name == "vqe-h2-sweep"


def test_context_times_become_epoch_nanoseconds():
    context = Context.model_validate(
        {
            "apiVersion": "govern/v1",
            "kind": "Context",
            "spec": {
                "sandboxes": [
                    {
                        "id": "SBX-1",
                        "team": "t",
                        "vendor": "ibm",
                        "status": "approved",
                        "start": "2026-01-01T00:00:00Z",
                        "end": "2026-01-02T00:00:00+01:00",
                        "budget": 10,
                    }
                ]
            },
        }
    )
    sandbox = context.spec.sandboxes[0]
    assert epoch_ns(sandbox.start) == 1_767_225_600_000_000_000
    assert epoch_ns(sandbox.end) - epoch_ns(sandbox.start) == 23 * 3600 * 10**9


def test_context_times_need_an_offset():
    from pydantic import ValidationError

    with pytest.raises(ValidationError, match="timezone"):
        Context.model_validate(
            {
                "apiVersion": "govern/v1",
                "kind": "Context",
                "spec": {"waivers": [{"id": "W", "rule": "DC-004", "scope": {"team": "t"}, "approver": "a", "reason": "r", "expires": "2026-01-01T00:00:00"}]},
            }
        )


def test_alias_bombs_are_refused():
    bomb = "a: &a [x, x]\nb: &b [*a, *a]\nc: &c [*b, *b]\nd: [*c, *c]\n"
    with pytest.raises(InputError, match="anchors and aliases"):
        parse_documents(bomb, "bomb.yaml")


def test_deep_nesting_is_an_input_error():
    with pytest.raises(InputError, match="nested too deeply|malformed"):
        parse_documents("a: " + "[" * 5000 + "]" * 5000 + "\n", "deep.yaml")


def test_odd_metadata_shapes_are_input_errors(engine, cli, tmp_path):
    path = tmp_path / "odd.yaml"
    path.write_text("apiVersion: govern/v1\nkind: Experiment\nmetadata: [not, a, mapping]\nspec: 3\n")
    result = cli("check", str(path), "-f", "json")
    assert result.exit_code == 2
    assert "metadata" in result.output


def test_fallback_triggers_include_queue_thresholds():
    experiment = validate(VALID.replace("queue_minutes_over: 120]", "queue_minutes_over: 120, pending_jobs_over: 50]"))
    assert experiment.spec.fallback.on[2].pending_jobs_over == 50
    error = error_of(VALID.replace("queue_minutes_over: 120]", "queue_jobs_over: 5]"))
    assert {problem.field for problem in error.problems} <= {"spec.fallback.on[1]", "spec.fallback.on[1].queue_jobs_over",
                                                             "spec.fallback.on[1].queue_minutes_over", "spec.fallback.on[1].pending_jobs_over"}


@pytest.mark.parametrize("seed", ["0", "-3", "2147483647", "1.5", "true", "'7'"])
def test_a_seed_the_runs_cannot_take_names_its_field(seed):
    error = error_of(VALID.replace("seed: 7}", f"seed: {seed}}}"))
    assert error.problems[0].field == "spec.hyperparameters"
    assert "seed:" in error.problems[0].message and "from 1 to 2147483646" in error.problems[0].message


def test_the_seed_a_manifest_gives_is_its_runs_seed():
    assert validate(VALID).spec.seed == 7
    assert validate(VALID.replace(", seed: 7}", "}")).spec.seed is None
