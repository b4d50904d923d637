"""Check results as typed values that know their exit code (Conftest's model)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from govern.errors import InputError
from govern.exit_codes import EXIT_BAD_INPUT, EXIT_DENIED, EXIT_OK
from govern.manifest.documents import locate
from govern.policy.decision import Decision, Outcome


@dataclass(frozen=True)
class CheckResult:
    """The outcome of checking one Experiment document: a decision, or the input error that prevented one."""

    source: str
    name: str = ""
    decision: Decision | None = None
    error: InputError | None = None
    locations: dict[str, tuple[int, int]] = field(default_factory=dict, compare=False, repr=False)
    policy_input: dict[str, Any] | None = field(default=None, compare=False, repr=False)
    """What the engine decided on (secret values redacted), for `govern check --record`; None from the service."""

    @property
    def status(self) -> str:
        if self.error is not None:
            return "error"
        assert self.decision is not None
        return self.decision.outcome.value

    def exit_code(self, fail_on_warn: bool = False) -> int:
        if self.error is not None:
            return EXIT_BAD_INPUT
        assert self.decision is not None
        if self.decision.outcome is Outcome.DENIED:
            return EXIT_DENIED
        if fail_on_warn and self.decision.outcome is Outcome.WARNED:
            return EXIT_DENIED
        return EXIT_OK

    def location_of(self, resource: str) -> tuple[int, int]:
        """Line and column (1-based) of a manifest path such as `spec.datasets[1]`, or of the nearest parent."""
        return locate(self.locations, resource)


@dataclass(frozen=True)
class CheckReport:
    """Every result of one `govern check` run, in the order the inputs were given."""

    results: tuple[CheckResult, ...]
    fail_on_warn: bool = False
    rules: Mapping[str, Mapping[str, Any]] = field(default_factory=dict, compare=False, repr=False)
    """The rule catalogue of the bundle that decided (from its METADATA), for formats that describe rules."""

    def exit_code(self) -> int:
        """2 beats 1 beats 0: bad input must never hide behind a deny."""
        return max((r.exit_code(self.fail_on_warn) for r in self.results), default=EXIT_OK)

    def counts(self) -> dict[str, int]:
        tally = {"allowed": 0, "warned": 0, "denied": 0, "error": 0}
        for result in self.results:
            tally[result.status] += 1
        return tally
