"""The embedded engine: the regorus interpreter (PyPI `gordon-to-regorus`, pinned), in evaluator processes.

regorus raises where a built-in fails, so it fails closed by itself; its compiled RVM mode answers
*undefined* instead (it fails open) and is never used. It holds the GIL for a whole evaluation and cannot be
interrupted, so evaluations run in a small pool of evaluator processes (`evaluator.py`), each loading the
bundle once: one that overruns the timeout is killed and replaced, and the decision is denied.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

import regorus

from govern.policy.bundle import PolicyBundle
from govern.policy.check import require_supported
from govern.policy.engines import EngineError, PolicyEngine
from govern.policy.engines.evaluator import RESULT, UNDEFINED, load, regorus_message
from govern.process_pool import CallTimeout, MemoryExceeded, PoolBusy, PoolError, ProcessPool

DEFAULT_MEMORY_BYTES = 1 << 30
EVALUATOR_PROGRAM = Path(__file__).with_name("evaluator.py")


def load_engine(bundle: PolicyBundle, *, tests: bool = False) -> regorus.Engine:
    """A regorus engine in this process holding the bundle's modules (test modules too, when asked) and data."""
    modules = bundle.modules if tests else bundle.policy_modules
    try:
        return load([(m.path, m.source) for m in modules], bundle.data_json)
    except RuntimeError as exc:
        raise EngineError(f"the policy bundle does not load:\n{regorus_message(exc)}") from None


class RegorusEngine(PolicyEngine):
    """The bundle, evaluated by a pool of evaluator processes under a timeout."""

    name = "embedded"

    def __init__(
        self,
        bundle: PolicyBundle,
        timeout_s: float = 5.0,
        workers: int | None = None,
        memory_bytes: int = DEFAULT_MEMORY_BYTES,
    ):
        require_supported(bundle)
        load_engine(bundle)
        self._bundle = bundle
        self._timeout_s = timeout_s
        setup = {"modules": [[m.path, m.source] for m in bundle.policy_modules], "data": bundle.data_json}
        # A script, not `-m`: importing govern's packages would cost most of its start; `-P` keeps its folder off sys.path.
        self._pool = ProcessPool([sys.executable, "-P", str(EVALUATOR_PROGRAM)], setup, workers or os.cpu_count() or 2,
                                 memory_bytes=memory_bytes, what="evaluator process")

    @property
    def bundle_revision(self) -> str:
        return self._bundle.revision

    @property
    def bundle(self) -> PolicyBundle:
        return self._bundle

    @property
    def catalogue(self) -> dict[str, dict[str, Any]]:
        return self._bundle.catalogue

    def warm(self) -> None:
        """Start the evaluator processes in the background (the service and `govern check` will need them)."""
        self._pool.warm()

    def query(self, entrypoint: str, policy_input: dict[str, Any], canonical: bytes) -> Any:
        if entrypoint not in self._bundle.entrypoints:
            raise EngineError(f"the policy bundle has no {entrypoint} entrypoint")
        timeout_s = self._timeout_s
        try:
            status, payload = self._pool.call(entrypoint.encode() + b"\n" + canonical, timeout_s)
        except PoolBusy:
            raise EngineError(f"no evaluator was free within {timeout_s:g}s") from None
        except CallTimeout:
            raise EngineError(f"evaluation did not finish within {timeout_s:g}s") from None
        except MemoryExceeded:
            raise EngineError("the evaluation ran past the evaluator's memory cap") from None
        except PoolError as exc:
            raise EngineError(str(exc)) from None
        if status == UNDEFINED:
            raise EngineError(f"entrypoint {entrypoint} is undefined for this input")
        if status != RESULT:
            raise EngineError(payload.decode(errors="replace"))
        return json.loads(payload)

    def close(self) -> None:
        """Stop the evaluators once they are idle (a swapped-out engine may still be mid-request)."""
        self._pool.close()
