"""`govern policy test`: run the bundle's Rego unit tests (`test_*` rules in `*_test.rego`) like `opa test`.

Tests run on the embedded engine, policies and tests loaded together with the bundle's data (the rule
catalogue included), so `with input as …` and `with data.… as …` mean what they mean in OPA.
"""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass, field

import regorus

from govern.policy.bundle import PolicyBundle
from govern.policy.check import parse_trees, require_supported, rule_heads
from govern.policy.engines import panic_reason
from govern.policy.engines.embedded import load_engine
from govern.policy.engines.evaluator import regorus_message


@dataclass(frozen=True)
class RegoTestResult:
    package: str
    name: str
    path: str
    status: str  # passed | failed | error
    detail: str = ""
    duration_ms: float = 0.0
    prints: tuple[str, ...] = ()

    @property
    def passed(self) -> bool:
        return self.status == "passed"


@dataclass(frozen=True)
class FileCoverage:
    path: str
    covered: tuple[int, ...]
    not_covered: tuple[int, ...]

    @property
    def percent(self) -> float:
        total = len(self.covered) + len(self.not_covered)
        return 100.0 * len(self.covered) / total if total else 100.0


@dataclass(frozen=True)
class TestRun:
    results: list[RegoTestResult]
    coverage: list[FileCoverage] = field(default_factory=list)


def discover_tests(bundle: PolicyBundle) -> list[tuple[str, str, str]]:
    """(package, rule, file) for every test rule, in file order, each once."""
    found: dict[tuple[str, str], str] = {}
    for module, tree, package in parse_trees(bundle.test_modules):
        for _, name, _ in rule_heads(tree):
            if name.startswith("test_"):
                found.setdefault((package, name), module.path)
    return [(package, name, path) for (package, name), path in found.items()]


def run_tests(bundle: PolicyBundle, pattern: str | None = None, *, coverage: bool = False) -> TestRun:
    """Every test rule matching the pattern, on one engine; raise EngineError if the tests cannot run."""
    require_supported(bundle)
    tests = [t for t in discover_tests(bundle) if pattern is None or re.search(pattern, f"{t[0]}.{t[1]}")]
    if not tests:
        return TestRun([])
    engine = load_engine(bundle, tests=True)
    engine.set_gather_prints(True)
    engine.set_enable_coverage(coverage)
    results = [_run_one(engine, test) for test in tests]
    return TestRun(results, _coverage(engine, bundle) if coverage else [])


def _run_one(engine: regorus.Engine, test: tuple[str, str, str]) -> RegoTestResult:
    package, name, path = test
    started = time.perf_counter()
    try:
        value = engine.eval_rule(f"data.{package}.{name}")
        status, detail = ("passed", "") if value is True else ("failed", _failure(value))
    except RuntimeError as exc:
        status, detail = "error", regorus_message(exc)
    except BaseException as exc:
        status, detail = "error", panic_reason(exc)
    prints = tuple(engine.take_prints())
    return RegoTestResult(package, name, path, status, detail, (time.perf_counter() - started) * 1000.0, prints)


def _failure(value: object) -> str:
    return "undefined (a condition did not hold)" if value is None else f"returned {json.dumps(value)[:200]}"


def _coverage(engine: regorus.Engine, bundle: PolicyBundle) -> list[FileCoverage]:
    """Coverage of the policy modules (tests are not counted), one entry per file."""
    policy_paths = {m.path for m in bundle.policy_modules}
    report = json.loads(engine.get_coverage_report_as_json())
    return [
        FileCoverage(item["path"], tuple(item["covered"]), tuple(item["not_covered"]))
        for item in report["files"]
        if item["path"] in policy_paths
    ]
