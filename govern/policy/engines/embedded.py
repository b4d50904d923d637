"""The embedded engine: the regorus interpreter (PyPI `gordon-to-regorus`, pinned), in evaluator processes.

regorus raises where a built-in fails, so it fails closed by itself; its compiled RVM mode answers
*undefined* instead (it fails open) and is never used. It holds the GIL for a whole evaluation and cannot be
interrupted, so evaluations run in a small pool of evaluator processes (`evaluator.py`), each loading the
bundle once: one that overruns the timeout is killed and replaced, and the decision is denied.

Replaying history (`evaluate_many`) sends inputs in batches, one request each, to every evaluator at once; a
batch that fails as a whole (its timeout, the memory cap, a crash) is decided again one input at a time, so
only the input at fault is denied for it.
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
import threading
import time
from collections.abc import Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import regorus

from govern.policy.bundle import ENTRYPOINT, PolicyBundle
from govern.policy.check import require_supported
from govern.policy.decision import Decision
from govern.policy.engines import EngineError, PolicyEngine
from govern.policy.engines.evaluator import RESULT, UNDEFINED, batch_request, load, regorus_message, split_frames
from govern.process_pool import CallTimeout, MemoryExceeded, PoolBusy, PoolError, ProcessPool

DEFAULT_MEMORY_BYTES = 1 << 30
EVALUATOR_PROGRAM = Path(__file__).with_name("evaluator.py")
BATCH_INPUTS = 256
"""The most inputs one batch carries (fewer where that keeps every evaluator busy)."""
BATCH_BYTES = 4 << 20
"""The most canonical input bytes one batch carries; a bigger input travels in a batch of its own."""
BATCH_TIMEOUT_S = 30.0
"""The most a batch may take (its inputs' timeouts add up to this at most, and never to less than one's)."""

Prepared = tuple[bytes, dict[str, Any]] | Decision
Chunk = list[tuple[int, Prepared]]


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
        self._workers = workers or os.cpu_count() or 2
        setup = {"modules": [[m.path, m.source] for m in bundle.policy_modules], "data": bundle.data_json}
        # A script, not `-m`: importing govern's packages would cost most of its start; `-P` keeps its folder off sys.path.
        self._pool = ProcessPool([sys.executable, "-P", str(EVALUATOR_PROGRAM)], setup, self._workers,
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
        status, payload = self._call(entrypoint.encode() + b"\n" + canonical, self._timeout_s)
        return _result(entrypoint, status, payload)

    def evaluate_many(self, policy_inputs: Sequence[dict[str, Any]]) -> list[Decision]:
        """Decide each input as `evaluate` would, in batches kept in flight on every evaluator at once.

        A batched decision's evaluation_ms is its share of its batch: the batch's round trip over its inputs.
        """
        decisions: list[Decision | None] = [None] * len(policy_inputs)
        size = max(1, min(BATCH_INPUTS, math.ceil(len(policy_inputs) / self._workers)))
        chunks, taking = self._chunks(policy_inputs, size), threading.Lock()

        def work() -> None:
            while True:
                with taking:
                    chunk = next(chunks, None)
                if chunk is None:
                    return
                for (index, _), decision in zip(chunk, self._decide_batch(chunk, policy_inputs), strict=True):
                    decisions[index] = decision

        with ThreadPoolExecutor(self._workers, thread_name_prefix="evaluate-many") as threads:
            for running in [threads.submit(work) for _ in range(self._workers)]:
                running.result()
        decided = [decision for decision in decisions if decision is not None]
        if len(decided) != len(decisions):  # every batch's work decided all of its inputs or raised above
            raise RuntimeError("an input of the batch was left undecided")
        return decided

    def _chunks(self, policy_inputs: Sequence[dict[str, Any]], size: int) -> Iterator[Chunk]:
        """The inputs, prepared as `evaluate` prepares them, in batches of at most `size` and BATCH_BYTES."""
        chunk: Chunk = []
        held = 0
        for index, policy_input in enumerate(policy_inputs):
            prepared = self._prepare(policy_input)
            weight = 0 if isinstance(prepared, Decision) else len(prepared[0]) + 4
            if chunk and (len(chunk) >= size or held + weight > BATCH_BYTES):
                yield chunk
                chunk, held = [], 0
            chunk.append((index, prepared))
            held += weight
        if chunk:
            yield chunk

    def _decide_batch(self, chunk: Chunk, policy_inputs: Sequence[dict[str, Any]]) -> list[Decision]:
        """The batch's decisions, from one request; one at a time instead where the batch as a whole failed."""
        ready = [prepared for _, prepared in chunk if not isinstance(prepared, Decision)]
        started = time.perf_counter()
        try:
            replies = self._call_batch([canonical for canonical, _ in ready]) if ready else []
        except EngineError:
            return [prepared if isinstance(prepared, Decision) else self.evaluate(policy_inputs[index])
                    for index, prepared in chunk]
        share_ms = (time.perf_counter() - started) * 1000.0 / max(1, len(ready))
        answers, decisions = iter(replies), []
        for _, prepared in chunk:
            if isinstance(prepared, Decision):
                decisions.append(prepared)
            else:
                decisions.append(self._decide(functools.partial(_answered, next(answers)), prepared[1], lambda: share_ms))
        return decisions

    def _call_batch(self, canonicals: list[bytes]) -> list[bytes]:
        """Each input's reply, as one alone would get it, from one request; EngineError if the batch failed."""
        timeout_s = max(self._timeout_s, min(self._timeout_s * len(canonicals), BATCH_TIMEOUT_S))
        status, payload = self._call(batch_request(ENTRYPOINT, canonicals), timeout_s)
        replies = split_frames(payload) if status == RESULT else None
        if replies is None or len(replies) != len(canonicals):
            raise EngineError("the evaluator's batch reply does not match its request")
        return replies

    def _call(self, request: bytes, timeout_s: float) -> tuple[bytes, bytes]:
        """One request to an evaluator: the reply's status and payload; EngineError saying why there is none."""
        try:
            return self._pool.call(request, timeout_s)
        except PoolBusy:
            raise EngineError(f"no evaluator was free within {timeout_s:g}s") from None
        except CallTimeout:
            raise EngineError(f"evaluation did not finish within {timeout_s:g}s") from None
        except MemoryExceeded:
            raise EngineError("the evaluation ran past the evaluator's memory cap") from None
        except PoolError as exc:
            raise EngineError(str(exc)) from None

    def close(self) -> None:
        """Stop the evaluators once they are idle (a swapped-out engine may still be mid-request)."""
        self._pool.close()


def _answered(reply: bytes) -> tuple[Any, None]:
    """A batched input's result and (as for any embedded evaluation) no provenance."""
    return _result(ENTRYPOINT, reply[:1], reply[1:]), None


def _result(entrypoint: str, status: bytes, payload: bytes) -> Any:
    """The entrypoint's value from an evaluator's reply; EngineError where it is undefined or failed."""
    if status == UNDEFINED:
        raise EngineError(f"entrypoint {entrypoint} is undefined for this input")
    if status != RESULT:
        raise EngineError(payload.decode(errors="replace"))
    return json.loads(payload)
