"""GitHub Actions workflow commands and the job summary, within what GitHub shows: 10 annotations of each kind
per step, the rest listed in the log and the summary rather than silently dropped."""

from __future__ import annotations

from govern.check.report import CheckReport, CheckResult
from govern.output.github import GitHubFormatter, append_step_summary, escape_data, escape_property, step_summary
from tests.output.reports import (
    BROKEN,
    COST_002,
    DC_001,
    DENIED,
    REG_003,
    SEC_004,
    WAIVED,
    WARNED,
    decision,
    make_report,
)


def test_github_escaping_follows_the_actions_toolkit():
    assert escape_data("50% done\r\nnext: a, b") == "50%25 done%0D%0Anext: a, b"
    assert escape_property("a:b,c%d\ne") == "a%3Ab%2Cc%25d%0Ae"


def test_github_commands_per_finding_and_problem():
    lines = GitHubFormatter().render(make_report()).splitlines()
    commands = [line for line in lines if line.startswith("::")]
    assert len(commands) == 7
    assert commands[0] == f"::error file={BROKEN},line=9,col=10,title=GOV-INPUT::spec.shots: must be a positive integer"
    assert commands[1].startswith(f"::error file={BROKEN},line=1,title=GOV-INPUT::file has a second YAML document")
    assert commands[2] == (
        f"::error file={DENIED},line=13,col=5,title=DC-001::"
        "dataset chem/h2-pes is classified restricted and may only run on a local simulator or on-prem backend; "
        "run it on aer_simulator%0A→ Run on aer_simulator or an on-prem device, or reclassify the dataset."
    )
    warning = commands[5]
    assert warning.startswith(f"::warning file={WARNED},line=9,col=10,title=COST-002::")
    assert "%0A→ Lower the shots,%0Aor ask for a larger budget." in warning
    assert "96%25 of the sandbox budget: 500.00 USD, line 2" in warning, "data keeps ':' and ','"
    notice = commands[6]
    assert notice.startswith(f"::notice file={WAIVED},line=1,col=1,title=REG-003::")
    assert "%0Awaiver WVR-17 approved by alice@example.org: pilot, synthetic data" in notice
    assert lines[-1] == "govern check: 5 checked, 2 allowed, 1 warned, 1 denied, 1 error; exit code 2"
    assert len(lines) == 8, "no message spills onto a line of its own"


def test_github_escapes_properties():
    odd_rule = SEC_004.model_copy(update={"rule": "X:1,2"})
    report = CheckReport(results=(CheckResult(source="dir,x/a:b.yaml", decision=decision(deny=[odd_rule])),))
    command = GitHubFormatter().render(report).splitlines()[0]
    assert command.startswith("::error file=dir%2Cx/a%3Ab.yaml,line=1,col=1,title=X%3A1%2C2::")


def test_github_fail_on_warn_annotates_warnings_as_errors():
    lines = GitHubFormatter().render(make_report(fail_on_warn=True)).splitlines()
    assert lines[5].startswith(f"::error file={WARNED},line=9,col=10,title=COST-002::")
    assert lines[-1].endswith("exit code 2")


def crowded_report() -> CheckReport:
    """More of each kind than GitHub annotates: 12 low denies then 3 critical ones, 12 warnings, 12 waived."""
    low = [SEC_004.model_copy(update={"severity": "low", "message": f"low {i}"}) for i in range(12)]
    critical = [DC_001.model_copy(update={"message": f"critical {i}"}) for i in range(3)]
    warnings = [COST_002.model_copy(update={"message": f"warn {i}"}) for i in range(12)]
    waived = [REG_003.model_copy(update={"message": f"waived {i}"}) for i in range(12)]
    return CheckReport(
        results=(
            CheckResult(source="a.yaml", name="a", decision=decision(deny=low + critical)),
            CheckResult(source="b.yaml", name="b", decision=decision(warn=warnings, waived=waived)),
        )
    )


def test_github_annotates_at_most_ten_of_each_kind_most_severe_first():
    lines = GitHubFormatter().render(crowded_report()).splitlines()
    errors = [line for line in lines if line.startswith("::error ")]
    warnings = [line for line in lines if line.startswith("::warning ")]
    notices = [line for line in lines if line.startswith("::notice ")]
    assert (len(errors), len(warnings), len(notices)) == (10, 10, 10)
    assert all("title=DC-001::critical" in line for line in errors[:3]), "the critical denies come first"
    assert [line.rsplit("::", 1)[1] for line in errors[3:]] == [f"low {i}%0A→ Use env:VAR or vault:path." for i in range(7)]
    assert notices[-1] == (
        "::notice title=govern check::10 more findings are not annotated (5 errors, 2 warnings, 3 notices): "
        "GitHub shows 10 of each kind per step. They are listed in this step's log below and in the job summary."
    )


def test_github_lists_the_findings_it_does_not_annotate_in_the_log():
    lines = GitHubFormatter().render(crowded_report()).splitlines()
    overflow = lines.index(next(line for line in lines if line.startswith("::notice title=govern check::")))
    held = lines[overflow + 1 : -1]
    assert len(held) == 10
    assert held[0] == "error a.yaml:1:1 SEC-004 [low] low 7 → Use env:VAR or vault:path."
    assert held[-1].startswith("notice b.yaml:1:1 REG-003 [high] waived 11")
    assert not any(line.startswith("::") for line in held)


def test_github_step_summary_is_a_table_of_experiments_outcomes_and_rules():
    summary = step_summary(make_report())
    assert summary.startswith("## govern check\n\n5 checked, 2 allowed, 1 warned, 1 denied, 1 error; exit code 2\n")
    rows = [line for line in summary.splitlines() if line.startswith("| ")]
    assert rows[0] == "| outcome | experiment | file | rules |"
    assert rows[1:] == [
        r"| error | – | examples/invalid/bad-shots.yaml | GOV-INPUT: spec.shots: must be a positive integer \(and 1 more\) |",
        r"| denied | vqe-h2-sweep | examples/denied/restricted-to-ibm.yaml | DC-001 ×2, SEC-004 |",
        r"| warned | qaoa-maxcut | examples/warned/near-budget.yaml | COST-002 \(warning\) |",
        r"| allowed | ghz-eu | examples/allowed/waived-region.yaml | REG-003 \(waived: WVR-17\) |",
        r"| allowed | bell | examples/allowed/bell.yaml |  |",
    ]


def test_github_step_summary_is_appended_to_the_file_github_names(tmp_path):
    summary_file = tmp_path / "step_summary.md"
    summary_file.write_text("earlier step\n", encoding="utf-8")
    written = append_step_summary(make_report(), {"GITHUB_STEP_SUMMARY": str(summary_file)})
    assert written == summary_file
    assert summary_file.read_text(encoding="utf-8") == "earlier step\n" + step_summary(make_report())
    assert append_step_summary(make_report(), {}) is None, "outside GitHub Actions nothing is written"
