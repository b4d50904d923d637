"""The layering docs/architecture.md promises, checked on the source: the steps `govern check` runs touch no
database, queue or lineage."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

from tests.conftest import ROOT

PACKAGE = ROOT / "govern"
DECISION_PATH = ("govern.manifest", "govern.submission", "govern.circuit", "govern.policy", "govern.check", "govern.output")
"""The steps the CLI's check runs, which must work with no service behind them."""
SERVICE_ONLY = ("govern.db", "govern.admission", "govern.records", "govern.audit", "govern.dispatch", "govern.api",
                "govern.lineage.outbox", "govern.lineage.delivery", "govern.lineage.store", "govern.lineage.marquez",
                "govern.cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports() -> dict[str, set[str]]:
    """Every govern module and the govern modules it imports, at the top or inside functions."""
    found: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        if "migrations" in path.parts:
            continue
        name = module_name(path)
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("govern"):
                found[name].add(node.module)
                found[name].update(f"{node.module}.{alias.name}" for alias in node.names)
            elif isinstance(node, ast.Import):
                found[name].update(alias.name for alias in node.names if alias.name.startswith("govern"))
    return found


def within(name: str, prefixes: tuple[str, ...]) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in prefixes)


def test_the_decision_path_touches_no_database_queue_or_lineage():
    crossings = sorted(
        f"{module} imports {target}"
        for module, targets in imports().items() if within(module, DECISION_PATH)
        for target in targets if within(target, SERVICE_ONLY)
    )
    assert crossings == []
