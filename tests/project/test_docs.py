"""Documentation keeps up with the code: every setting, command and option is in the docs (datasette's rule), and
every link between the pages leads somewhere."""

from __future__ import annotations

import re

import typer.main
import yaml

from govern.cli import app
from govern.settings import Settings
from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()
PAGES = {path.name: path.read_text() for path in sorted((ROOT / "docs").glob("*.md"))}
REFERENCE = PAGES["reference.md"]


def test_every_setting_is_documented():
    for name in Settings.model_fields:
        assert f"`GOVERN_{name.upper()}`" in REFERENCE, name


def test_every_command_and_option_is_documented():
    command = typer.main.get_command(app)
    for name, sub in command.commands.items():
        groups = sub.commands.items() if hasattr(sub, "commands") else [(None, sub)]
        for sub_name, leaf in groups:
            full = " ".join(part for part in ("govern", name, sub_name) if part)
            assert f"`{full}" in REFERENCE, full
            if full == "govern check":
                for param in leaf.params:
                    for option in param.opts:
                        if option.startswith("--"):
                            assert f"`{option}`" in REFERENCE, option


def test_readme_starts_with_the_two_setup_commands_and_ci_runs_the_second():
    block = re.search(r"```sh\n(.*?)\n```", README, re.DOTALL).group(1).splitlines()
    assert len(block) == 2 and "govern demo" in block[0] and "pytest" in block[1]
    ci = (ROOT / ".ci" / "run").read_text()
    assert block[1] in ci


def test_every_page_is_linked_from_the_readme_and_every_link_resolves():
    for name in PAGES:
        assert f"(docs/{name})" in README, name
    for page, text in {"README.md": README, **PAGES}.items():
        folder = ROOT if page == "README.md" else ROOT / "docs"
        for target, anchor in re.findall(r"\]\(([^)#:\s]*\.md)?(?:#([\w-]+))?\)", text):
            linked = (folder / target) if target else (folder / page)
            assert linked.is_file(), f"{page} links to {target}"
            if anchor:
                headings = re.findall(r"^#+ (.+)$", linked.read_text(), re.M)
                anchors = {re.sub(r"[^\w\- ]", "", heading.strip().lower()).replace(" ", "-") for heading in headings}
                assert anchor in anchors, f"{page} links to {target}#{anchor}"


def test_ci_integration_files_parse():
    hooks = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text())
    assert hooks[0]["id"] == "govern-check" and hooks[0]["entry"].startswith("govern check")
    workflow = yaml.safe_load((ROOT / "examples" / "ci" / "github-actions.yml").read_text())
    assert "check" in workflow["jobs"]


def test_settings_come_from_a_config_file_below_the_environment(tmp_path, monkeypatch):
    import pytest

    from govern.settings import load_settings

    toml = tmp_path / "govern.toml"
    toml.write_text('database_url = "sqlite:///from-file.db"\nworkers = 3\n')
    monkeypatch.setenv("GOVERN_CONFIG", str(toml))
    monkeypatch.delenv("GOVERN_WORKERS", raising=False)
    monkeypatch.setenv("GOVERN_DATABASE_URL", "sqlite:///from-env.db")
    settings = load_settings()
    assert settings.workers == 3 and settings.database_url == "sqlite:///from-env.db"
    yaml_file = tmp_path / "govern.yaml"
    yaml_file.write_text("evaluation_timeout_s: 2.5\n")
    monkeypatch.setenv("GOVERN_CONFIG", str(yaml_file))
    assert load_settings().evaluation_timeout_s == 2.5
    monkeypatch.setenv("GOVERN_CONFIG", str(tmp_path / "missing.toml"))
    with pytest.raises(ValueError, match="not a file"):
        load_settings()
    assert "`GOVERN_CONFIG`" in REFERENCE
