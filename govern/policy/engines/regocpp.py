"""The embedded engine: regopy (rego-cpp) in-process, the bundle compiled once.

rego-cpp fails OPEN by default (a failing built-in makes a rule undefined, so a deny silently does not
fire): every interpreter here runs with strict built-in errors, and a bundle that calls a built-in the
engine lacks is refused before it is compiled.
"""

from __future__ import annotations

import json
import os
import re
import threading
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

from regopy import Input, Interpreter, LogLevel, RegoError

from govern.policy.bundle import ENTRYPOINT, Module, PolicyBundle
from govern.policy.engines import PolicyEngine, EngineError
from govern.policy.check import check_bundle

_ERROR = re.compile(r"\(error \d+:(?P<file>[^|]*)\|(?P<offset>\d+)\|\d+\s*\(errormsg \d+:(?P<message>[^)]*)\)")


def new_interpreter() -> Interpreter:
    """An interpreter that surfaces built-in errors instead of failing open, and prints nothing itself."""
    interpreter = Interpreter()
    interpreter.strict_built_in_errors = True
    interpreter.log_level = LogLevel.NONE
    return interpreter


def describe_rego_error(error: RegoError, modules: tuple[Module, ...] = ()) -> str:
    """Turn rego-cpp's error tree into `file:line:col: message` lines."""
    sources = {m.path: m.source for m in modules}
    lines = []
    for match in _ERROR.finditer(str(error)):
        path, offset, message = match["file"], int(match["offset"]), match["message"].strip()
        source = sources.get(path)
        if source is not None and path:
            line = source.count("\n", 0, offset) + 1
            column = offset - (source.rfind("\n", 0, offset) + 1) + 1
            lines.append(f"{path}:{line}:{column}: {message}")
        else:
            lines.append(f"{path or 'query'}: {message}")
    return "\n".join(lines) or str(error).strip()


def require_supported(bundle: PolicyBundle) -> None:
    """Refuse a bundle with any fatal `govern policy check` problem: it would not be evaluated faithfully."""
    fatal = [p for p in check_bundle(bundle, new_interpreter().is_builtin) if p.fatal]
    if fatal:
        raise EngineError("policy bundle refused:\n" + "\n".join(str(p) for p in fatal))


def load_modules(interpreter: Interpreter, bundle: PolicyBundle, modules: tuple[Module, ...]) -> None:
    try:
        for module in modules:
            interpreter.add_module(module.path, module.source)
        interpreter.add_data(bundle.data)
    except RegoError as exc:
        raise EngineError(f"the policy bundle does not compile:\n{describe_rego_error(exc, modules)}") from None


class EmbeddedEngine(PolicyEngine):
    """Compiles the bundle once; each evaluation thread gets its own interpreter over that compiled plan."""

    name = "embedded"

    def __init__(self, bundle: PolicyBundle, timeout_s: float = 5.0, workers: int | None = None):
        require_supported(bundle)
        builder = new_interpreter()
        load_modules(builder, bundle, bundle.policy_modules)
        try:
            self._compiled = builder.build(None, bundle.entrypoints)
        except RegoError as exc:
            raise EngineError(f"the policy bundle does not compile:\n{describe_rego_error(exc, bundle.modules)}") from None
        if not self._compiled.ok():
            raise EngineError("the policy bundle does not compile")
        self._builder = builder
        self._bundle = bundle
        self._timeout_s = timeout_s
        self._local = threading.local()
        self._pool = ThreadPoolExecutor(max_workers=workers or os.cpu_count() or 2, thread_name_prefix="rego")

    @property
    def bundle_revision(self) -> str:
        return self._bundle.revision

    @property
    def bundle(self) -> PolicyBundle:
        return self._bundle

    def query(self, entrypoint: str, policy_input: dict[str, Any], canonical: bytes) -> Any:
        """Evaluate on a pool thread so a runaway evaluation is abandoned at the timeout, and denied."""
        if entrypoint not in self._bundle.entrypoints:
            raise EngineError(f"the policy bundle has no {entrypoint} entrypoint")
        future = self._pool.submit(self.query_here, canonical, policy_input, entrypoint)
        try:
            return future.result(timeout=self._timeout_s)
        except FutureTimeout:
            raise EngineError(f"evaluation did not finish within {self._timeout_s:g}s") from None

    def query_here(
        self, canonical: bytes, policy_input: dict[str, Any] | None = None, entrypoint: str = ENTRYPOINT
    ) -> Any:
        """Evaluate on the calling thread, with no timeout (the bare engine call).

        rego-cpp keeps string values in their escaped JSON form: regopy's `Input` would put a quote or
        backslash in raw and the result would come back as broken (or silently changed) JSON. So the
        input goes in as the canonical JSON term; only when no string needs escaping (no backslash in
        the canonical bytes) is the faster `Input` conversion used, since both forms are then identical.
        """
        interpreter = getattr(self._local, "interpreter", None)
        if interpreter is None:
            interpreter = self._local.interpreter = new_interpreter()
        try:
            if policy_input is not None and b"\\" not in canonical:
                interpreter.set_input(Input(policy_input))
            else:
                interpreter.set_input_term(canonical.decode())
            output = interpreter.query_bundle_entrypoint(self._compiled, entrypoint)
        except RegoError as exc:
            raise EngineError(describe_rego_error(exc, self._bundle.modules)) from None
        except ValueError as exc:
            raise EngineError(f"the engine produced output that is not JSON ({exc.__class__.__name__})") from None
        if not output.ok():
            raise EngineError(
                "the engine reported an evaluation error (a built-in failed on this input, or rules conflict)"
            )
        text = str(output)
        expressions = None if text == "undefined" else json.loads(text).get("expressions")
        if not expressions:
            raise EngineError(f"entrypoint {entrypoint} is undefined for this input")
        return expressions[0]

    def close(self) -> None:
        """Stop taking work; evaluations already queued still finish (a swapped-out engine may be mid-request)."""
        self._pool.shutdown(wait=False)
