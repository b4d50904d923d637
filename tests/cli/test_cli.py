"""`govern` on the command line: exit codes, bad input, formats, and the real console script."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest
from junitparser import JUnitXml

from tests.conftest import EXAMPLES, EXAMPLES_NOW, ROOT

CONTEXT = str(EXAMPLES / "context.yaml")


def check(cli, *args: str):
    return cli("check", "--context", CONTEXT, "--now", EXAMPLES_NOW, *args)


def flat(result) -> str:
    """The output with line wrapping undone: the text format wraps long messages for people."""
    return " ".join(result.output.split())


def write_manifest(tmp_path: Path, text: str, name: str = "exp.yaml") -> Path:
    (tmp_path / "bell.qasm").write_text((ROOT / "tests" / "fixtures" / "bell.qasm").read_text())
    path = tmp_path / name
    path.write_text(text)
    return path


VALID_LOCAL = (EXAMPLES / "allowed" / "bell-local.yaml").read_text().replace("../circuits/bell.qasm", "bell.qasm")


def test_allowed_examples_exit_zero(cli):
    result = check(cli, str(EXAMPLES / "allowed"))
    assert result.exit_code == 0, result.output
    assert "ALLOWED" in result.output


@pytest.mark.slow
def test_examples_folder_exits_one_and_checks_every_experiment(cli):
    result = check(cli, str(EXAMPLES), "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    experiments = sorted(EXAMPLES.rglob("*.yaml"))
    assert report["summary"]["total"] == len(experiments) - 1  # context.yaml is left alone
    assert report["summary"]["error"] == 0


@pytest.mark.slow
def test_globs_select_files(cli):
    result = check(cli, str(EXAMPLES / "denied" / "no-*.yaml"), "--format", "json")
    assert result.exit_code == 1
    assert [r["name"] for r in json.loads(result.output)["results"]] == ["ghz-ibm-unfunded"]


@pytest.mark.slow
def test_warnings_fail_only_with_fail_on_warn(cli):
    path = str(EXAMPLES / "warned")
    assert check(cli, path).exit_code == 0
    assert check(cli, path, "--fail-on-warn").exit_code == 1


def test_bad_input_beats_deny_in_the_exit_code(cli, tmp_path):
    broken = write_manifest(tmp_path, "apiVersion: govern/v1\nkind: Experiment\nmetadata: {name: [x\n", "broken.yaml")
    result = check(cli, str(EXAMPLES / "denied" / "no-sandbox.yaml"), str(broken))
    assert result.exit_code == 2


@pytest.mark.slow
@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda t: t.replace("  shots: 2048", "  shots: 2048\n  shotz: 3"), r"exp.yaml:\d+:3: spec.shotz: unknown"),
        (lambda t: t + "  [unclosed\n", r"exp.yaml:\d+:\d+: malformed YAML/JSON"),
        (lambda t: t.replace("classification: internal", "classification: top-secret"), r"spec.datasets\[0\].classification"),
        (lambda t: t.replace("bell.qasm", "missing.qasm"), r"spec.circuit.path: circuit file 'missing.qasm' not found"),
    ],
    ids=["unknown-field", "malformed-yaml", "bad-enum", "missing-circuit"],
)
def test_bad_manifests_exit_two_with_a_precise_message(cli, tmp_path, mutate, expected):
    path = write_manifest(tmp_path, mutate(VALID_LOCAL))
    result = check(cli, str(path))
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert re.search(expected, flat(result)), result.output


@pytest.mark.slow
def test_a_shot_count_past_what_the_database_stores_is_exit_two_naming_the_field(cli, tmp_path):
    """jobs.shots is an INTEGER column: a bigger count is refused by the manifest model, never stored or wrapped."""
    for shots in (2**31, 9223372036854775808):
        path = write_manifest(tmp_path, VALID_LOCAL.replace("  shots: 2048", f"  shots: {shots}"))
        result = check(cli, str(path))
        assert result.exit_code == 2
        assert re.search(r"spec\.shots.*less than or equal to 2147483647", flat(result)), result.output


@pytest.mark.slow
@pytest.mark.parametrize(
    ("shots", "hyperparameters", "field"),
    [
        ("100", "{steps: [1, {depth: 123456789012345678901234567890}]}", "spec.hyperparameters"),
        ("100", "{learning_rate: .inf}", "spec.hyperparameters"),
    ],
)
def test_a_number_the_engine_cannot_hold_exactly_is_an_input_error(cli, tmp_path, shots, hyperparameters, field):
    text = VALID_LOCAL.replace("  shots: 2048", f"  shots: {shots}").replace("{seed: 11}", hyperparameters)
    result = check(cli, str(write_manifest(tmp_path, text)), "-f", "json")
    assert result.exit_code == 2
    (problem,) = json.loads(result.output)["results"][0]["error"]["problems"]
    assert problem["field"] == field and problem["line"] is not None
    assert "the policy engine holds exactly" in problem["message"] or "not a finite number" in problem["message"]


@pytest.mark.slow
def test_broken_qasm_names_the_circuit_file_and_position(cli, tmp_path):
    path = write_manifest(tmp_path, VALID_LOCAL)
    (tmp_path / "bell.qasm").write_text("OPENQASM 3.0;\ninclude \"stdgates.inc\";\nqubit[2] q;\ncx q[0] q[1];\n")
    result = check(cli, str(path))
    assert result.exit_code == 2
    assert "bell.qasm:4:9: invalid OpenQASM 3" in flat(result)


@pytest.mark.slow
def test_oversized_inputs_exit_two(cli, tmp_path, monkeypatch):
    path = write_manifest(tmp_path, VALID_LOCAL)
    monkeypatch.setenv("GOVERN_MAX_CIRCUIT_BYTES", "50")
    result = check(cli, str(path))
    assert result.exit_code == 2 and "over the 50-byte limit" in flat(result)
    monkeypatch.setenv("GOVERN_MAX_MANIFEST_BYTES", "100")
    result = check(cli, str(path))
    assert result.exit_code == 2 and "over the 100-byte limit" in flat(result)


@pytest.mark.slow
def test_explicit_file_without_an_experiment_is_an_error(cli):
    result = check(cli, CONTEXT)
    assert result.exit_code == 2 and "no document of kind 'Experiment'" in flat(result)


@pytest.mark.slow
def test_missing_path_and_unknown_format_exit_two(cli):
    assert check(cli, "does/not/exist.yaml").exit_code == 2
    result = check(cli, str(EXAMPLES / "allowed"), "--format", "xml")
    assert result.exit_code == 2 and "unknown output format" in flat(result)


def test_bad_context_file_exits_two(cli, tmp_path):
    bad = tmp_path / "ctx.yaml"
    bad.write_text("apiVersion: govern/v1\nkind: Context\nspec: {sandboxes: [{id: X}]}\n")
    result = cli("check", "--context", str(bad), str(EXAMPLES / "allowed"))
    assert result.exit_code == 2 and "spec.sandboxes[0]" in flat(result)


def test_missing_bundle_is_a_usage_error_naming_it(cli, tmp_path):
    """Never a run of denials that only looks like a verdict: nothing was evaluated."""
    result = check(cli, str(EXAMPLES / "allowed" / "bell-local.yaml"), "--bundle", str(tmp_path / "nope"), "-f", "json")
    assert result.exit_code == 2 and f"no policy bundle at {tmp_path / 'nope'}" in flat(result)
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("arguments", "environment", "says"),
    [
        (["--output", "/nonexistent/folder/govern.sarif", "-f", "sarif"], {}, "the folder /nonexistent/folder does not exist"),
        (["--engine", "opa"], {"GOVERN_OPA_URL": ""}, "set GOVERN_OPA_URL"),
        ([], {"GOVERN_WORKERS": "abc"}, "GOVERN_WORKERS: Input should be a valid integer"),
        ([], {"GOVERN_EVALUATION_TIMEOUT_S": "soon"}, "GOVERN_EVALUATION_TIMEOUT_S: Input should be a valid number"),
    ],
    ids=["output-folder", "opa-without-url", "bad-integer", "bad-number"],
)
def test_set_up_mistakes_exit_two_with_a_clear_message(cli, monkeypatch, arguments, environment, says):
    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    result = cli("check", str(EXAMPLES / "allowed" / "bell-local.yaml"), *arguments)
    assert result.exit_code == 2, result.output
    assert says in flat(result)
    assert "internal error" not in result.output and "errors.pydantic.dev" not in result.output


def test_a_database_govern_does_not_support_is_named(cli, monkeypatch):
    monkeypatch.setenv("GOVERN_DATABASE_URL", "mysql://user:secret@db.example/govern")
    for command in (["db", "current"], ["token", "list"], ["serve", "--port", "1"]):
        result = cli(*command)
        assert result.exit_code == 2, (command, result.output)
        assert "mysql databases are not supported" in flat(result) and "secret" not in result.output


def test_version_is_the_package_version(cli):
    from importlib.metadata import version

    from govern.distribution import DISTRIBUTION

    result = cli("--version")
    assert result.exit_code == 0 and result.output == f"govern {version(DISTRIBUTION)}\n"


@pytest.mark.slow
def test_junit_and_sarif_outputs_are_written_to_files(cli, tmp_path):
    junit, sarif = tmp_path / "report.xml", tmp_path / "report.sarif"
    assert check(cli, str(EXAMPLES), "-f", "junit", "-o", str(junit)).exit_code == 1
    assert check(cli, str(EXAMPLES), "-f", "sarif", "-o", str(sarif)).exit_code == 1
    suites = JUnitXml.fromfile(str(junit))
    assert suites.failures >= 10
    log = json.loads(sarif.read_text())
    rules = {r["ruleId"] for r in log["runs"][0]["results"]}
    assert {"DC-001", "PR-005", "SEC-001"} <= rules


@pytest.mark.slow
def test_secret_values_never_reach_any_output(cli):
    secret = "c2VjcmV0LXRva2VuLWRvLW5vdC1jb21taXQtOTk4ODc3"
    for output_format in ("text", "json", "junit", "sarif", "github"):
        result = check(cli, str(EXAMPLES / "denied" / "secret-in-manifest.yaml"), "-f", output_format)
        assert result.exit_code == 1
        assert secret not in result.output, output_format


def test_schema_is_json_schema_for_the_manifest(cli):
    import jsonschema

    result = cli("schema")
    schema = json.loads(result.output)
    jsonschema.Draft202012Validator.check_schema(schema)
    assert "containsPII" in json.dumps(schema)
    assert json.loads(cli("schema", "context").output)["title"] == "Context"


@pytest.mark.slow
def test_init_scaffolds_a_manifest_that_passes(cli, tmp_path):
    assert cli("init", str(tmp_path)).exit_code == 0
    assert cli("check", str(tmp_path / "experiment.yaml")).exit_code == 0
    again = cli("init", str(tmp_path))
    assert again.exit_code == 2 and "--force" in flat(again)


@pytest.mark.slow
def test_init_examples_copies_the_packaged_examples_and_never_overwrites(cli, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # manifests read `../circuits/` inside the current folder's tree
    target = tmp_path / "examples"
    copied = cli("init", "--examples", str(target))
    assert copied.exit_code == 0, copied.output
    assert sorted(p.relative_to(target) for p in target.rglob("*") if p.is_file()) == sorted(
        p.relative_to(EXAMPLES) for p in EXAMPLES.rglob("*") if p.is_file())
    assert cli("check", str(target / "allowed" / "bell-local.yaml")).exit_code == 0
    (target / "context.yaml").write_text("mine")
    again = cli("init", "--examples", str(target))
    assert again.exit_code == 2 and f"{target / 'allowed' / 'bell-local.yaml'} exists" in flat(again)
    assert (target / "context.yaml").read_text() == "mine"


@pytest.mark.slow
def test_policy_commands(cli):
    tested = cli("policy", "test")
    assert tested.exit_code == 0, tested.output
    assert " 0 failed" in tested.output
    checked = cli("policy", "check")
    assert checked.exit_code == 0 and "bundle ok" in checked.output
    listed = json.loads(cli("policy", "list", "--format", "json").output)
    assert listed["DC-001"]["waivable"] is False


@pytest.mark.slow
def test_console_script_runs_as_a_real_process():
    """The real entry point, not the in-process runner: exit code and no traceback."""
    result = subprocess.run(
        [sys.executable, "-m", "govern", "check", str(EXAMPLES / "denied" / "unknown-backend.yaml"), "-f", "github"],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert result.stdout.startswith("::error ")
    assert "Traceback" not in result.stderr


@pytest.mark.slow
def test_skip_other_kinds_leaves_named_non_experiments_alone(cli):
    result = check(cli, CONTEXT, str(EXAMPLES / "allowed" / "bell-local.yaml"), "--skip-other-kinds", "-f", "json")
    assert result.exit_code == 0
    assert [r["name"] for r in json.loads(result.output)["results"]] == ["bell-calibration"]
    assert check(cli, CONTEXT, "--skip-other-kinds").exit_code == 0


@pytest.mark.slow
def test_json_manifests_in_folders_and_multi_document_yaml(cli, tmp_path):
    import yaml

    from govern.manifest.documents import load_documents

    (document,) = load_documents(EXAMPLES / "allowed" / "bell-local.yaml", 1_000_000)
    data = dict(document.data, spec=dict(document.data["spec"], circuit={"path": "bell.qasm"}))
    write_manifest(tmp_path, json.dumps(data), "one.json")
    second = dict(data, metadata=dict(data["metadata"], name="bell-second"))
    (tmp_path / "two.yaml").write_text(yaml.safe_dump_all([{"kind": "Note", "text": "ignored"}, second]))
    result = check(cli, str(tmp_path), "-f", "json")
    assert result.exit_code == 0, result.output
    assert sorted(r["name"] for r in json.loads(result.output)["results"]) == ["bell-calibration", "bell-second"]


@pytest.mark.slow
def test_results_keep_the_order_of_the_inputs(cli):
    denied = sorted((EXAMPLES / "denied").glob("*.yaml"))
    result = check(cli, *map(str, denied), "--workers", "2", "-f", "json")
    assert [r["source"] for r in json.loads(result.output)["results"]] == [str(p) for p in denied]


@pytest.mark.slow
def test_opa_engine_is_configured_from_the_environment(cli, engine, monkeypatch, tmp_path):
    """GOVERN_ENGINE=opa with a CA bundle, against the loopback stand-in (see tests/opa_standin.py)."""
    import ssl

    import trustme

    from tests.opa_standin import OpaStandIn

    ca = trustme.CA()
    ca.cert_pem.write_to_path(str(tmp_path / "ca.pem"))
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.1").configure_cert(context)
    with OpaStandIn(engine, context) as opa:
        monkeypatch.setenv("GOVERN_ENGINE", "opa")
        monkeypatch.setenv("GOVERN_OPA_URL", opa.url)
        monkeypatch.setenv("GOVERN_OPA_CA_BUNDLE", str(tmp_path / "ca.pem"))
        result = check(cli, str(EXAMPLES / "denied" / "no-sandbox.yaml"), "-f", "json")
    decision = json.loads(result.output)["results"][0]["decision"]
    assert result.exit_code == 1
    assert decision["engine"] == "opa" and decision["deny"][0]["rule"] == "PR-001"
    assert len(opa.requests) == 1


@pytest.mark.slow
def test_invalid_settings_exit_two_with_a_message(cli, monkeypatch, tmp_path):
    monkeypatch.setenv("GOVERN_CONFIG", str(tmp_path / "missing.toml"))
    for command in (("policy", "list"), ("check", str(EXAMPLES / "allowed")), ("db", "current")):
        result = cli(*command)
        assert result.exit_code == 2 and "invalid settings" in flat(result), command
    monkeypatch.delenv("GOVERN_CONFIG")
    monkeypatch.setenv("GOVERN_EVALUATION_TIMEOUT_S", "soon")
    assert cli("policy", "list").exit_code == 2
