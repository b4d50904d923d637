"""The output formats as a set: none changes the report, each is registered, and the text and JSON formats."""

from __future__ import annotations

import json
import tomllib
from importlib import import_module

import pytest

from govern.check.report import CheckReport, CheckResult
from govern.output import available_formats
from govern.output.github import GitHubFormatter
from govern.output.json import JsonFormatter
from govern.output.junit import JUnitFormatter
from govern.output.sarif import SarifFormatter
from govern.output.text import TextFormatter
from tests.conftest import ROOT
from tests.output.reports import (
    ALLOWED,
    BROKEN,
    CATALOGUE,
    DC_001,
    DENIED,
    WARNED,
    decision,
    make_report,
    snapshot,
)

FORMATTERS = [TextFormatter, JsonFormatter, JUnitFormatter, SarifFormatter, GitHubFormatter]


# ---------------------------------------------------------------------------------------------- all


@pytest.mark.parametrize("formatter", FORMATTERS, ids=lambda f: f.name)
def test_formatters_do_not_mutate_the_report(formatter):
    report = make_report(fail_on_warn=True, rules=CATALOGUE)
    before = snapshot(report)
    first = formatter().render(report)
    assert snapshot(report) == before
    assert formatter().render(report) == first, "rendering twice gives the same text"


@pytest.mark.parametrize("formatter", FORMATTERS, ids=lambda f: f.name)
def test_empty_report_renders(formatter):
    assert formatter().render(CheckReport(results=())).endswith("\n")


def test_pyproject_entry_points_load_the_formatters():
    declared = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["entry-points"]["govern.output"]
    assert set(declared) == {"text", "json", "junit", "sarif", "github"}
    for name, target in declared.items():
        module, _, attribute = target.partition(":")
        cls = getattr(import_module(module), attribute)
        assert cls.name == name


def test_registry_lists_all_five_formats():
    """The suite runs on an installed govern (the README's second command), so the entry points are registered."""
    formats = available_formats()
    assert {"text", "json", "junit", "sarif", "github"} <= set(formats)
    assert formats["sarif"] is SarifFormatter


# --------------------------------------------------------------------------------------------- text


def test_text_lists_findings_with_markers_and_locations():
    out = TextFormatter(width=200).render(make_report())
    assert f"DENIED  {DENIED} (vqe-h2-sweep)" in out
    assert "  ✗ DC-001 [critical] dataset chem/h2-pes is classified restricted" in out
    assert "    → Run on aer_simulator or an on-prem device, or reclassify the dataset." in out
    assert f"    at {DENIED}:13:5 (spec.datasets[0])" in out
    assert f"WARNED  {WARNED} (qaoa-maxcut)" in out
    assert "  ! COST-002 [medium]" in out
    assert "  ~ REG-003 [high]" in out
    assert "waiver WVR-17 approved by alice@example.org: pilot, synthetic data" in out
    assert f"ERROR   {BROKEN}" in out
    assert f"  ✗ {BROKEN}:9:10: spec.shots: must be a positive integer" in out
    assert f"ALLOWED {ALLOWED} (bell)" in out


def test_text_summary_has_counts_and_short_decision_facts():
    out = TextFormatter(width=200).render(make_report())
    assert "5 checked: 2 allowed, 1 warned, 1 denied, 1 error; exit code 2" in out
    assert "0f6c2d9e" in out and "0f6c2d9e-1b7a" not in out
    assert "3f9a0c1b2d4e" in out and "3f9a0c1b2d4e5" not in out


def test_text_has_no_ansi_unless_asked(monkeypatch):
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert "\x1b[" not in TextFormatter().render(make_report())
    assert "\x1b[" in TextFormatter(color=True).render(make_report())


def test_text_keeps_square_brackets_in_messages():
    """rich markup must not eat policy text such as `[critical]` or `spec.datasets[0]`."""
    finding = DC_001.model_copy(update={"message": "see [bold]spec.datasets[0][/bold]"})
    report = CheckReport(results=(CheckResult(source="a.yaml", decision=decision(deny=[finding])),))
    assert "see [bold]spec.datasets[0][/bold]" in TextFormatter(width=200).render(report)


# --------------------------------------------------------------------------------------------- json


def test_json_document_carries_exit_codes_and_decisions():
    document = json.loads(JsonFormatter().render(make_report()))
    assert list(document) == ["summary", "results"]
    assert document["summary"] == {
        "allowed": 2,
        "warned": 1,
        "denied": 1,
        "error": 1,
        "total": 5,
        "fail_on_warn": False,
        "exit_code": 2,
    }
    denied, warned, waived, allowed, broken = document["results"]
    assert list(denied) == ["source", "name", "status", "exit_code", "decision", "error"]
    assert (denied["status"], denied["exit_code"], denied["error"]) == ("denied", 1, None)
    assert denied["decision"]["decision_id"] == "0f6c2d9e-1b7a-4c52-9a51-3f1e2d4c5b6a"
    assert [f["rule"] for f in denied["decision"]["deny"]] == ["DC-001", "DC-001", "SEC-004"]
    assert denied["decision"]["evaluated_at"].startswith("2026-05-04T12:00:00")
    assert (warned["status"], warned["exit_code"]) == ("warned", 0)
    assert waived["decision"]["waived"][0]["waiver"]["id"] == "WVR-17"
    assert broken["decision"] is None
    assert broken["exit_code"] == 2
    assert broken["error"] == {
        "source": BROKEN,
        "problems": [
            {"message": "must be a positive integer", "field": "spec.shots", "line": 9, "column": 10},
            {
                "message": "file has a second YAML document, only one Experiment is allowed",
                "field": "",
                "line": 0,
                "column": None,
            },
        ],
    }


def test_json_fail_on_warn_raises_the_warned_exit_code():
    document = json.loads(JsonFormatter().render(CheckReport(results=make_report().results[1:2], fail_on_warn=True)))
    assert document["summary"]["exit_code"] == 1
    assert document["results"][0]["exit_code"] == 1
