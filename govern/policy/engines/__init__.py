"""Policy engines: one small interface; every implementation must give the same decision for the same input.

Every engine fails closed: an error, a panic, a timeout or a result of the wrong shape becomes a deny that
says why, never an allow.
"""

from __future__ import annotations

import abc
import functools
import hashlib
import time
from collections.abc import Callable, Sequence
from typing import Any

from pydantic import ValidationError

from govern.canonical import canonical_json
from govern.policy.bundle import AUTHZ_ENTRYPOINT, ENTRYPOINT
from govern.policy.decision import Authorization, Decision, PolicyResult


class EngineError(Exception):
    """The engine could not give a result; the caller denies."""


def panic_reason(exc: BaseException) -> str:
    """Why an engine library's BaseException means a deny; interpreter shutdown and Ctrl-C pass through.

    A Rust panic reaches Python as pyo3's `PanicException`, which derives from BaseException, so an
    `except Exception` would let it escape the fail-closed paths.
    """
    if isinstance(exc, (KeyboardInterrupt, SystemExit, GeneratorExit)):
        raise exc
    return f"the engine crashed ({exc.__class__.__name__}: {str(exc).splitlines()[0] if str(exc) else 'no message'})"


AUTHZ_CACHE_SIZE = 4096


class PolicyEngine(abc.ABC):
    """Evaluates the bundle's decision entrypoint for one policy input."""

    name: str

    @functools.cached_property
    def _authz_answers(self) -> dict[bytes, Authorization]:
        return {}

    @property
    @abc.abstractmethod
    def bundle_revision(self) -> str: ...

    @property
    def catalogue(self) -> dict[str, dict[str, Any]]:
        """The rule catalogue of the bundle this engine decides with (empty where none is known)."""
        return {}

    @abc.abstractmethod
    def query(self, entrypoint: str, policy_input: dict[str, Any], canonical: bytes) -> Any:
        """The raw result of an entrypoint for the input (also given as canonical JSON); EngineError if none."""

    def query_with_provenance(
        self, entrypoint: str, policy_input: dict[str, Any], canonical: bytes
    ) -> tuple[Any, dict[str, Any] | None]:
        """The raw result and what the engine says about where it came from (a server's decision id and
        bundle revision); an embedded engine has nothing to add to the decision's own facts."""
        return self.query(entrypoint, policy_input, canonical), None

    def evaluate(self, policy_input: dict[str, Any]) -> Decision:
        """Decide, failing closed on any error or malformed result."""
        started = time.perf_counter()
        prepared = self._prepare(policy_input)
        if isinstance(prepared, Decision):
            return prepared
        canonical, facts = prepared
        return self._decide(lambda: self.query_with_provenance(ENTRYPOINT, policy_input, canonical), facts,
                            lambda: _since(started))

    def _prepare(self, policy_input: dict[str, Any]) -> tuple[bytes, dict[str, Any]] | Decision:
        """The input's canonical JSON and the facts its decision carries, or the deny for an input that is not JSON."""
        try:
            canonical = canonical_json(policy_input)
        except (TypeError, ValueError) as exc:
            return Decision.failed_closed(
                f"policy input is not JSON: {exc}",
                input_hash="unhashable",
                bundle_revision=self.bundle_revision,
                engine=self.name,
            )
        return canonical, {
            "input_hash": "sha256:" + hashlib.sha256(canonical).hexdigest(),
            "bundle_revision": self.bundle_revision,
            "engine": self.name,
        }

    def _decide(self, answer: Callable[[], tuple[Any, dict[str, Any] | None]], facts: dict[str, Any],
                evaluation_ms: Callable[[], float]) -> Decision:
        """The decision on what the engine answered (the raw result and its provenance), failing closed on any
        error or malformed result; one path for single and batched evaluations, so both decide alike."""
        try:
            raw, provenance = answer()
            result = PolicyResult.model_validate(raw)
        except EngineError as exc:
            return Decision.failed_closed(str(exc), evaluation_ms=evaluation_ms(), **facts)
        except ValidationError as exc:
            reason = f"the policy returned a malformed result ({exc.error_count()} problems, first: {exc.errors()[0]['msg']})"
            return Decision.failed_closed(reason, evaluation_ms=evaluation_ms(), **facts)
        except BaseException as exc:  # fail closed on anything the engine library throws, panics included
            return Decision.failed_closed(panic_reason(exc), evaluation_ms=evaluation_ms(), **facts)
        return Decision.from_result(result, evaluation_ms=evaluation_ms(), provenance=provenance, **facts)

    def evaluate_many(self, policy_inputs: Sequence[dict[str, Any]]) -> list[Decision]:
        """Decide each input, in order, as `evaluate` would; for replaying history (impact analysis), where an
        engine may send inputs to its evaluators in batches."""
        return [self.evaluate(policy_input) for policy_input in policy_inputs]

    def authorize(self, request: dict[str, Any]) -> Authorization:
        """Ask the bundle's `authz` policy; any failure to answer is a deny that says why.

        The policy is a pure function of the request and the bundle, and an engine serves one bundle, so
        answers are remembered (up to AUTHZ_CACHE_SIZE; failures never are): a reload builds a new engine.
        """
        canonical = canonical_json(request)
        answers = self._authz_answers
        if (known := answers.get(canonical)) is not None:
            return known
        try:
            answer = Authorization.model_validate(self.query(AUTHZ_ENTRYPOINT, request, canonical))
        except EngineError as exc:
            return Authorization(allow=False, reason=f"authorization policy failed: {exc}")
        except ValidationError:
            return Authorization(allow=False, reason="authorization policy returned a malformed answer")
        except BaseException as exc:  # fail closed on anything the engine library throws, panics included
            return Authorization(allow=False, reason=f"authorization policy failed: {panic_reason(exc)}")
        if len(answers) >= AUTHZ_CACHE_SIZE:
            answers.clear()
        answers[canonical] = answer
        return answer

    def close(self) -> None:  # noqa: B027 - a default that does nothing, not an abstract method
        """Release connections or threads; engines without any need not override it."""


def _since(started: float) -> float:
    return (time.perf_counter() - started) * 1000.0


class UnavailableEngine(PolicyEngine):
    """Stands in when no engine could be built (missing bundle, unreachable OPA): every input is denied."""

    name = "unavailable"

    def __init__(self, reason: str, bundle_revision: str = "unavailable"):
        self._reason = reason
        self._revision = bundle_revision

    @property
    def bundle_revision(self) -> str:
        return self._revision

    def query(self, entrypoint: str, policy_input: dict[str, Any], canonical: bytes) -> Any:
        raise EngineError(self._reason)
