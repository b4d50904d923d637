"""`govern policy test`: run the bundle's Rego unit tests (`test_*` rules in `*_test.rego`) like `opa test`."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

from regopy import RegoError

from govern.policy.bundle import PolicyBundle
from govern.policy.engines import EngineError
from govern.policy.engines.regocpp import describe_rego_error, load_modules, new_interpreter
from govern.policy.check import blank_out, check_bundle

_TEST_RULE = re.compile(r"^(test_\w+)\s*(?:if\b|:=|=|\{)", re.MULTILINE)


@dataclass(frozen=True)
class RegoTestResult:
    package: str
    name: str
    path: str
    status: str  # passed | failed | error
    detail: str = ""
    duration_ms: float = 0.0

    @property
    def passed(self) -> bool:
        return self.status == "passed"


def discover_tests(bundle: PolicyBundle) -> list[tuple[str, str, str]]:
    """(package, rule, file) for every test rule, in file order, each once."""
    found: dict[tuple[str, str], str] = {}
    for module in bundle.test_modules:
        for name in _TEST_RULE.findall(blank_out(module.source)):
            found.setdefault((module.package, name), module.path)
    return [(package, name, path) for (package, name), path in found.items()]


def run_tests(bundle: PolicyBundle, pattern: str | None = None) -> list[RegoTestResult]:
    """Compile policies and tests once, then evaluate every test rule; raise EngineError if it cannot run."""
    interpreter = new_interpreter()
    fatal = [p for p in check_bundle(bundle, interpreter.is_builtin) if p.fatal]
    if fatal:
        raise EngineError("policy bundle refused:\n" + "\n".join(str(p) for p in fatal))
    tests = [t for t in discover_tests(bundle) if pattern is None or re.search(pattern, f"{t[0]}.{t[1]}")]
    if not tests:
        return []
    load_modules(interpreter, bundle, bundle.modules)
    entrypoints = [f"{package.replace('.', '/')}/{name}" for package, name, _ in tests]
    try:
        compiled = interpreter.build(None, entrypoints)
    except RegoError as exc:
        raise EngineError(f"the policy tests do not compile:\n{describe_rego_error(exc, bundle.modules)}") from None
    return [_run_one(interpreter, compiled, entrypoint, test) for entrypoint, test in zip(entrypoints, tests, strict=True)]


def _run_one(interpreter, compiled, entrypoint: str, test: tuple[str, str, str]) -> RegoTestResult:
    package, name, path = test
    started = time.perf_counter()
    try:
        output = interpreter.query_bundle_entrypoint(compiled, entrypoint)
    except RegoError as exc:
        return RegoTestResult(package, name, path, "error", describe_rego_error(exc), _ms(started))
    if not output.ok():
        return RegoTestResult(package, name, path, "error", "evaluation error (a built-in failed)", _ms(started))
    expressions = json.loads(str(output)).get("expressions") if str(output) != "undefined" else None
    if expressions == [True]:
        return RegoTestResult(package, name, path, "passed", "", _ms(started))
    detail = "undefined (a condition did not hold)" if not expressions else f"returned {expressions[0]!r}"
    return RegoTestResult(package, name, path, "failed", detail, _ms(started))


def _ms(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0
