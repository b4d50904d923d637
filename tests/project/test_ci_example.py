"""The CI example is what the README shows, installs this project by its own name and version, uploads SARIF with
the current upload-sarif major, and runs `govern check` once for annotations, summary and SARIF alike."""

from __future__ import annotations

import json
import shlex
import shutil
import tomllib

import yaml
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

from tests.conftest import EXAMPLES, ROOT

WORKFLOW_PATH = ROOT / "examples" / "ci" / "github-actions.yml"
WORKFLOW_TEXT = WORKFLOW_PATH.read_text(encoding="utf-8")
STEPS = yaml.safe_load(WORKFLOW_TEXT)["jobs"]["check"]["steps"]
PROJECT = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
UPLOAD_SARIF = "github/codeql-action/upload-sarif"
UPLOAD_SARIF_MAJOR = "v4"
"""v3 is deprecated in December 2026 (github.blog/changelog/2025-10-28-upcoming-deprecation-of-codeql-action-v3)."""


def commands(program: str) -> list[list[str]]:
    """The `run:` commands of the job's steps that start with `program`, split as the shell splits them."""
    return [words for step in STEPS if "run" in step for words in [shlex.split(step["run"])] if words[0] == program]


def test_the_readme_shows_the_ci_example_verbatim():
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"```yaml\n{WORKFLOW_TEXT}```" in readme


def test_the_example_installs_this_project_by_its_name_and_version():
    (install,) = commands("pip")
    (requirement,) = [Requirement(word) for word in install[2:]]
    assert canonicalize_name(requirement.name) == canonicalize_name(PROJECT["name"])
    assert str(requirement.specifier) == f"=={PROJECT['version']}"


def test_the_example_uploads_sarif_with_the_current_action_major():
    (upload,) = [step for step in STEPS if step.get("uses", "").startswith(UPLOAD_SARIF + "@")]
    assert upload["uses"] == f"{UPLOAD_SARIF}@{UPLOAD_SARIF_MAJOR}"
    (check,) = commands("govern")
    assert upload["with"]["sarif_file"] == check[check.index("sarif") + 2]


def test_the_example_runs_the_check_once_for_annotations_and_sarif():
    (check,) = commands("govern")
    assert check[1] == "check"
    formats = [check[i + 1] for i, word in enumerate(check) if word == "--format"]
    assert formats == ["github", "sarif"]


def test_the_example_check_step_runs_as_written(cli, tmp_path, monkeypatch):
    """The step's command, in a repository laid out as the workflow expects, gives the SARIF and the summary."""
    shutil.copytree(EXAMPLES, tmp_path / "experiments", ignore=shutil.ignore_patterns("ci", "context.yaml"))
    (tmp_path / "governance").mkdir()
    shutil.copy(EXAMPLES / "context.yaml", tmp_path / "governance" / "context.yaml")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(tmp_path / "summary.md"))
    (check,) = commands("govern")
    result = cli(*check[1:])
    assert result.exit_code in (0, 1), result.output
    assert "::error file=experiments/" in result.stdout
    assert json.loads((tmp_path / "govern.sarif").read_text())["runs"][0]["results"]
    assert (tmp_path / "summary.md").read_text().startswith("## govern check")
