"""The pre-submit check path: files → Experiment documents → submissions → profiles → decisions.

The CLI and (later) the service share this path; nothing here touches a database, queue or lineage.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from govern.check.discovery import EXPERIMENT_KIND, Target, discover, experiment_name
from govern.check.report import CheckReport, CheckResult
from govern.circuit import CircuitLimits, CircuitProfile
from govern.circuit.profiling import DEFAULT_CACHE_BYTES, ProfileCache, Profiler, ProfilingUnavailable, shared_profiler
from govern.errors import InputError
from govern.manifest.documents import Document, parse_documents, read_text
from govern.manifest.schema import Context
from govern.policy.decision import Decision
from govern.policy.engines import PolicyEngine
from govern.policy.input import build_policy_input, context_input
from govern.submission import Submission, submission_from_document


class Checker:
    """Decides submissions against one engine and one context; profiles of identical circuits are shared.

    Circuits are profiled by a pool of killable processes (`govern.circuit.profiling`), the shared default one unless
    a profiler is given; their profiles and refusals are remembered in an LRU bounded in bytes.
    """

    def __init__(
        self,
        engine: PolicyEngine,
        context: Context | None = None,
        *,
        circuit_limits: CircuitLimits | None = None,
        max_manifest_bytes: int = 1_000_000,
        now: datetime | None = None,
        root: Path | None = None,
        profiler: Profiler | None = None,
        profile_cache_bytes: int = DEFAULT_CACHE_BYTES,
    ):
        self.engine = engine
        self._context = context_input(context or Context.empty())
        self._limits = circuit_limits or CircuitLimits()
        self._max_manifest_bytes = max_manifest_bytes
        self._now = now
        self._root = root
        self._profiler = profiler
        self._profiles = ProfileCache(profile_cache_bytes)

    def profile(self, submission: Submission) -> CircuitProfile:
        key, size = ProfileCache.key(submission.circuit_text, submission.circuit_dir, submission.circuit_root)
        cached = self._profiles.get(key)
        if cached is None:
            profiler = self._profiler or shared_profiler()
            try:
                cached = profiler.profile(
                    submission.circuit_text, submission.circuit_source, self._limits, submission.circuit_dir, root=submission.circuit_root
                )
            except ProfilingUnavailable:
                raise
            except InputError as exc:
                cached = type(exc)(exc.source, list(exc.problems))  # without the traceback, which holds the circuit
            self._profiles.put(key, size, cached)
        if isinstance(cached, InputError):
            raise type(cached)(cached.source, list(cached.problems))  # a fresh one: raising the kept one would grow its traceback
        return cached

    def policy_input(self, submission: Submission, profile: CircuitProfile, context: Context | None = None) -> dict[str, Any]:
        """The engine's input; a context given here (the service's live one) replaces the checker's."""
        facts = context_input(context) if context is not None else self._context
        return build_policy_input(
            submission.experiment, profile, facts, self._now or datetime.now(UTC), submission.circuit_secrets
        )

    def decide(self, submission: Submission) -> Decision:
        """Profile the circuit and evaluate the policies: the per-submission path."""
        return self.engine.evaluate(self.policy_input(submission, self.profile(submission)))

    def check_document(self, document: Document) -> CheckResult:
        """One document's result; whatever goes wrong with it is its own input error, never the batch's."""
        name = experiment_name(document)
        if document.error is not None:
            return CheckResult(document.source, name, error=document.error)
        try:
            submission = submission_from_document(document, self._limits.max_bytes, root=self._root)
            policy_input = self.policy_input(submission, self.profile(submission))
            decision = self.engine.evaluate(policy_input)
        except InputError as exc:
            return CheckResult(document.source, name, error=exc, locations=document.locations)
        except Exception as exc:  # odd input that slipped past validation: this document cannot be checked
            error = InputError(document.source, f"this document could not be checked ({type(exc).__name__}); nothing was decided")
            return CheckResult(document.source, name, error=error, locations=document.locations)
        return CheckResult(document.source, name, decision=decision, locations=document.locations, policy_input=policy_input)

    def documents_of(self, target: Target) -> list[Document] | CheckResult:
        """The Experiment documents of one file (or the input error that stands in for them)."""
        source = str(target.path)
        try:
            text = read_text(target.path, self._max_manifest_bytes)
            if not target.explicit and EXPERIMENT_KIND not in text:
                return []
            documents = [d for d in parse_documents(text, source, keep_going=True) if d.error or d.kind == EXPERIMENT_KIND]
        except InputError as exc:
            return CheckResult(source, error=exc)
        if target.explicit and not documents:
            return CheckResult(source, error=InputError(source, "no document of kind 'Experiment' in this file"))
        return documents

    def check(
        self,
        arguments: Iterable[str],
        *,
        workers: int = 1,
        skip_other_kinds: bool = False,
        on_total: Callable[[int], None] | None = None,
        on_result: Callable[[CheckResult], None] | None = None,
    ) -> tuple[CheckResult, ...]:
        """Check every Experiment under the arguments, in parallel, keeping the order they were given in."""
        targets, missing = discover(arguments, named_files_must_hold_experiments=not skip_other_kinds)

        def notify(result: CheckResult) -> CheckResult:
            if on_result:
                on_result(result)
            return result

        with ThreadPoolExecutor(max_workers=max(1, workers)) as pool:
            per_file = list(pool.map(self.documents_of, targets))
            documents = [d for found in per_file if isinstance(found, list) for d in found]
            unreadable = [found for found in per_file if isinstance(found, CheckResult)]
            if on_total:
                on_total(len(missing) + len(unreadable) + len(documents))
            for result in (*missing, *unreadable):
                notify(result)
            decided = iter(pool.map(lambda document: notify(self.check_document(document)), documents))
            ordered = [
                result
                for found in per_file
                for result in ([found] if isinstance(found, CheckResult) else [next(decided) for _ in found])
            ]
        return (*missing, *ordered)


def check_paths(checker: Checker, arguments: Iterable[str], fail_on_warn: bool = False, **options: Any) -> CheckReport:
    return CheckReport(checker.check(arguments, **options), fail_on_warn=fail_on_warn, rules=checker.engine.catalogue)
