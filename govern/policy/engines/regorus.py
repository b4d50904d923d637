"""The embedded engine: the regorus interpreter (PyPI `gordon-to-regorus`, pinned) in-process.

regorus raises where a built-in fails, so it fails closed by itself; its compiled RVM mode answers
*undefined* instead (it fails open) and is never used. A regorus `Engine` is unsendable: used from a thread
other than its creator's it panics. So each evaluation thread loads the bundle once into an engine of its
own, and every evaluation runs on a fresh `clone()` of it (about 1 µs), which leaves nothing behind.
"""

from __future__ import annotations

import json
import os
import queue
import threading
from concurrent.futures import Future
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import regorus

from govern.policy.bundle import PolicyBundle
from govern.policy.check import require_supported
from govern.policy.engines import EngineError, PolicyEngine, panic_reason

_BACKTRACE = "\n\nStack backtrace:"
UNDEFINED = '"<undefined>"'
"""What `eval_rule_as_json` answers for an undefined rule."""


def regorus_message(error: BaseException) -> str:
    """regorus's `--> file:line:col … error: …` text, without the Rust backtrace it appends."""
    return str(error).split(_BACKTRACE, 1)[0].strip()


def load_engine(bundle: PolicyBundle, *, tests: bool = False) -> regorus.Engine:
    """A regorus engine holding the bundle's modules (test modules too, when asked) and its data."""
    engine = regorus.Engine()
    modules = bundle.modules if tests else bundle.policy_modules
    try:
        for module in modules:
            engine.add_policy(module.path, module.source)
        engine.add_data_json(bundle.data_json)
    except RuntimeError as exc:
        raise EngineError(f"the policy bundle does not load:\n{regorus_message(exc)}") from None
    return engine


class RegorusEngine(PolicyEngine):
    """The bundle, loaded once per evaluation thread; each evaluation on a clone, under a timeout."""

    name = "embedded"

    def __init__(self, bundle: PolicyBundle, timeout_s: float = 5.0, workers: int | None = None):
        require_supported(bundle)
        load_engine(bundle)
        self._bundle = bundle
        self._timeout_s = timeout_s
        self._threads = EvaluationThreads(bundle, workers or os.cpu_count() or 2)

    @property
    def bundle_revision(self) -> str:
        return self._bundle.revision

    @property
    def bundle(self) -> PolicyBundle:
        return self._bundle

    @property
    def catalogue(self) -> dict[str, dict[str, Any]]:
        return self._bundle.catalogue

    def query(self, entrypoint: str, policy_input: dict[str, Any], canonical: bytes) -> Any:
        """Evaluate on an evaluation thread, so a runaway evaluation is abandoned at the timeout, and denied."""
        if entrypoint not in self._bundle.entrypoints:
            raise EngineError(f"the policy bundle has no {entrypoint} entrypoint")
        future = self._threads.submit(canonical, entrypoint)
        try:
            return future.result(timeout=self._timeout_s)
        except FutureTimeout:
            raise EngineError(f"evaluation did not finish within {self._timeout_s:g}s") from None

    def close(self) -> None:
        """Stop taking work; evaluations already queued still finish (a swapped-out engine may be mid-request)."""
        self._threads.close()


def evaluate(base: regorus.Engine, canonical: bytes, entrypoint: str) -> Any:
    """The entrypoint's value for the input, on a fresh clone of `base`; EngineError when there is none.

    The error is raised only once the clone is gone: a traceback keeps its frame (and the clone) alive,
    and the error travels to the caller's thread, where freeing the clone would make regorus complain.
    """
    try:
        text = _evaluate_on_clone(base, canonical, "data." + entrypoint.replace("/", "."))
        failure = None
    except RuntimeError as exc:
        failure = regorus_message(exc)
    if failure is not None:
        raise EngineError(failure)
    if text == UNDEFINED:
        raise EngineError(f"entrypoint {entrypoint} is undefined for this input")
    return json.loads(text)


def _evaluate_on_clone(base: regorus.Engine, canonical: bytes, rule: str) -> str:
    engine = base.clone()
    engine.set_input_json(canonical.decode())
    return engine.eval_rule_as_json(rule)


class EvaluationThreads:
    """A fixed set of threads, each holding its own engine for the bundle (regorus engines are unsendable:
    created, used and freed on one thread). An evaluation that overruns its timeout keeps its thread busy,
    so runaways can take capacity away but never add threads or memory without bound."""

    def __init__(self, bundle: PolicyBundle, size: int):
        self._bundle = bundle
        self._size = size
        self._jobs: queue.SimpleQueue[tuple[bytes, str, Future[Any]] | None] = queue.SimpleQueue()
        self._threads: list[threading.Thread] = []
        self._starting = threading.Lock()

    def submit(self, canonical: bytes, entrypoint: str) -> Future[Any]:
        """Queue one evaluation; the threads start with the first (an engine nobody asks costs no threads)."""
        if not self._threads:
            with self._starting:
                while len(self._threads) < self._size:
                    thread = threading.Thread(target=self._serve, name=f"rego-{len(self._threads)}", daemon=True)
                    thread.start()
                    self._threads.append(thread)
        future: Future[Any] = Future()
        self._jobs.put((canonical, entrypoint, future))
        return future

    def _serve(self) -> None:
        base: regorus.Engine | None = None
        while (job := self._jobs.get()) is not None:
            canonical, entrypoint, future = job
            if not future.set_running_or_notify_cancel():
                continue
            try:
                base = base or load_engine(self._bundle)
                future.set_result(evaluate(base, canonical, entrypoint))
            except EngineError as exc:
                future.set_exception(exc)
            except BaseException as exc:  # a panic: fail this evaluation, start the next from a fresh engine
                base = None
                future.set_exception(EngineError(panic_reason(exc)))

    def close(self) -> None:
        for _ in self._threads:
            self._jobs.put(None)
