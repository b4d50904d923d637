"""The base of a cloud device's backend: nothing is kept in the process, so a stored job id outlives it.

The seeds travel with the vendor's job as labels (`seed_labels`, read back by `seeds_from_labels`), and a
credential the vendor cannot work without is asked for by name (`required_credential`).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping
from typing import Any

from govern.backends.base import (
    Backend,
    BackendError,
    DispatchRequest,
    Execution,
    JobState,
    poll_until_final,
    translated_errors,
)
from govern.backends.checks import job_state

SEED_LABEL = "govern:seed_{}"


def required_credential(credentials: Mapping[str, str] | None, name: str, needed_by: str, what: str) -> str:
    """A credential the vendor cannot work without; the error names the key and what it is, never a value."""
    value = (credentials or {}).get(name)
    if not value:
        raise BackendError(f"{needed_by} needs credentials[{name!r}] ({what})")
    return value


def seed_labels(request: DispatchRequest) -> dict[str, str]:
    """The seeds as vendor job labels (tags, metadata), so a stateless cloud backend can read them back."""
    return {
        SEED_LABEL.format("transpiler"): str(request.seed_transpiler),
        SEED_LABEL.format("simulator"): str(request.seed_simulator),
    }


def seeds_from_labels(labels: Mapping[str, str]) -> dict[str, int]:
    """`{"transpiler": n, "simulator": n}` from the labels `seed_labels` wrote."""
    seeds = {}
    for kind in ("transpiler", "simulator"):
        value = str(labels.get(SEED_LABEL.format(kind), ""))
        if not value.isdigit():
            raise BackendError(f"the job's labels do not record its seed_{kind} (was it submitted by govern?)")
        seeds[kind] = int(value)
    return seeds


class RemoteBackend(Backend):
    """A cloud device: every call asks the vendor and nothing is kept in the process, so a job id stored
    by the caller can be waited on after a restart.

    Subclasses find a vendor job, say why one stopped and read a finished one's result; this class reads
    statuses, waits (cancelling on timeout) and cancels, with `secrets` masked in every error.
    """

    simulator = False
    secrets: tuple[str | None, ...] = ()

    @abc.abstractmethod
    def _remote_job(self, vendor_job_id: str) -> Any:
        """The vendor's job, with status() and cancel()."""

    @abc.abstractmethod
    def _why_stopped(self, job: Any, vendor_job_id: str, state: JobState) -> str: ...

    @abc.abstractmethod
    def _execution(self, job: Any, vendor_job_id: str) -> Execution:
        """The finished run's result, seeds and metrics (vendor errors are translated by the caller)."""

    def status(self, vendor_job_id: str) -> JobState:
        job = self._remote_job(vendor_job_id)
        with translated_errors(f"cannot read the status of {self.key} job {vendor_job_id}", *self.secrets):
            return job_state(job.status())

    def wait(self, vendor_job_id: str, timeout_s: float) -> Execution:
        """Poll the job's status (queues on real devices are long, so the interval grows to 30 s)."""
        job = self._remote_job(vendor_job_id)
        with translated_errors(f"cannot read the status of {self.key} job {vendor_job_id}", *self.secrets):
            state = poll_until_final(lambda: job_state(job.status()), timeout_s, first_interval_s=2, max_interval_s=30)
        if state is None:
            timed_out = f"{self.key} job {vendor_job_id} timed out after {timeout_s:g} s"
            try:
                self.cancel(vendor_job_id)
            except BackendError as exc:  # it may still run, and be billed: the caller must know
                raise BackendError(f"{timed_out}; cancelling it failed: {exc}") from None
            raise BackendError(f"{timed_out} and was cancelled")
        if state is not JobState.DONE:
            with translated_errors(f"cannot read why {self.key} job {vendor_job_id} stopped", *self.secrets):
                why = self._why_stopped(job, vendor_job_id, state)
            raise BackendError(f"{self.key} job {vendor_job_id} did not finish: {why}")
        with translated_errors(f"cannot read the result of {self.key} job {vendor_job_id}", *self.secrets):
            return self._execution(job, vendor_job_id)

    def cancel(self, vendor_job_id: str) -> None:
        job = self._remote_job(vendor_job_id)
        with translated_errors(f"cannot cancel {self.key} job {vendor_job_id}", *self.secrets):
            job.cancel()
