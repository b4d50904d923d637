"""`govern check` writes several formats from one run (`--format`/`--output` pairs), as the CI example does:
annotations on stdout, SARIF and JUnit to files, and the job summary where GitHub names it."""

from __future__ import annotations

import json

import pytest
from junitparser import JUnitXml

from tests.conftest import EXAMPLES, EXAMPLES_NOW

DENIED = str(EXAMPLES / "denied" / "restricted-to-ibm.yaml")
ALLOWED = str(EXAMPLES / "allowed" / "bell-local.yaml")


def check(cli, *args: str):
    return cli("check", "--context", str(EXAMPLES / "context.yaml"), "--now", EXAMPLES_NOW, *args)


def test_one_run_writes_every_format_asked_for(cli, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    sarif, junit = tmp_path / "govern.sarif", tmp_path / "govern.xml"
    result = check(cli, DENIED, ALLOWED, "-f", "github", "-o", "-", "-f", "sarif", "-o", str(sarif), "--format", "junit", "--output", str(junit))
    assert result.exit_code == 1, result.output
    assert result.stdout.startswith("::error file=")
    assert result.stdout.splitlines()[-1].startswith("govern check: 2 checked, 1 allowed")
    assert {r["ruleId"] for r in json.loads(sarif.read_text())["runs"][0]["results"]} >= {"DC-001"}
    assert JUnitXml.fromfile(str(junit)).failures >= 1
    assert summary.read_text().startswith("## govern check\n")


def test_a_single_format_still_goes_to_stdout_or_its_output(cli, tmp_path, monkeypatch):
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)
    assert json.loads(check(cli, ALLOWED, "-f", "json").stdout)["summary"]["allowed"] == 1
    sarif = tmp_path / "govern.sarif"
    result = check(cli, ALLOWED, "-f", "sarif", "-o", str(sarif))
    assert result.exit_code == 0 and result.stdout == ""
    assert json.loads(sarif.read_text())["version"] == "2.1.0"


def test_the_step_summary_is_written_only_for_the_github_format(cli, tmp_path, monkeypatch):
    summary = tmp_path / "summary.md"
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    assert check(cli, ALLOWED, "-f", "json").exit_code == 0
    assert not summary.exists()
    assert check(cli, ALLOWED, "-f", "github").exit_code == 0
    assert check(cli, ALLOWED, "-f", "github").exit_code == 0
    assert summary.read_text().count("## govern check") == 2, "appended, as GitHub expects of each step"


@pytest.mark.parametrize(
    ("arguments", "says"),
    [
        (["-f", "github", "-f", "sarif", "-o", "x.sarif"], "give one --output per --format when there are several (- for stdout)"),
        (["-f", "json", "-o", "-", "-f", "text", "-o", "-"], "only one --format can write to stdout"),
        (["-f", "json", "-o", "same.out", "-f", "sarif", "-o", "same.out"], "--output same.out is given twice"),
        (["-f", "json", "-o", "a.json", "-o", "b.json"], "give one --output per --format"),
        (["-f", "json", "-o", "-", "-f", "nope", "-o", "n.out"], "unknown output format 'nope'"),
        (["-f", "json", "-o", "-", "-f", "sarif", "-o", "/nonexistent/x.sarif"], "the folder /nonexistent does not exist"),
    ],
    ids=["unpaired", "two-stdout", "same-file", "more-outputs", "unknown", "missing-folder"],
)
def test_output_pairs_that_do_not_add_up_are_usage_errors(cli, tmp_path, monkeypatch, arguments, says):
    monkeypatch.chdir(tmp_path)
    result = check(cli, ALLOWED, *arguments)
    assert result.exit_code == 2, result.output
    assert says in " ".join(result.output.split())
    assert list(tmp_path.iterdir()) == [], "nothing is written when the outputs are refused"
