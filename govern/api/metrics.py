"""Prometheus metrics for the service: decisions by outcome and rule, decision latency, HTTP latency, the
process and platform, the build, and the policy bundle revision in use.

Each app has its own registry (made by the app factory), so nothing is global and tests stay independent.
Under `govern serve --workers N` every process writes its values to the Prometheus multiprocess directory and
/metrics sums them over the processes (prometheus_client's multiprocess mode); the process and platform
collectors, which describe one process, are left out there, as the client's documentation says.
"""

from __future__ import annotations

import os
import platform
import time
from pathlib import Path

from fastapi import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
    multiprocess,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govern.distribution import installed_version
from govern.lineage.outbox import Backlog
from govern.policy.decision import Decision

MULTIPROCESS_DIR_VARIABLE = "PROMETHEUS_MULTIPROC_DIR"
"""Where prometheus_client's multiprocess mode keeps each process's values; the client reads only this variable."""


def multiprocess_dir() -> Path | None:
    """The multiprocess directory `govern serve --workers N` gave this process, if any."""
    value = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
    return Path(value) if value else None


class ServiceMetrics:
    def __init__(self, shared_dir: Path | None = None) -> None:
        self.registry = CollectorRegistry()
        self.shared_dir = shared_dir
        if shared_dir is None:
            ProcessCollector(registry=self.registry)
            PlatformCollector(registry=self.registry)
        # Gauges set to 1 rather than Info metrics, which multiprocess mode does not support.
        Gauge(
            "govern_build_info", "The govern build serving: its version and the Python it runs on.",
            ["version", "python", "implementation"], registry=self.registry, multiprocess_mode="liveall",
        ).labels(installed_version() or "0+unknown", platform.python_version(), platform.python_implementation()).set(1)
        self.bundle = Gauge(
            "govern_policy_bundle_info", "The policy bundle the service decides with (its revision follows a reload; each "
            "server process reports its own).", ["revision", "engine"], registry=self.registry, multiprocess_mode="liveall",
        )
        self.bundle_labels: tuple[str, str] | None = None
        self.decisions = Counter(
            "govern_decisions", "Decisions made, by kind (check, submission) and outcome.", ["kind", "outcome"], registry=self.registry
        )
        self.rules = Counter(
            "govern_rule_findings", "Rules that fired, by rule id and how (deny, warn, waived).", ["rule", "effect"], registry=self.registry
        )
        self.decision_seconds = Histogram(
            "govern_decision_seconds", "Policy evaluation time per decision.", registry=self.registry,
            buckets=(0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1.0),
        )
        self.http_seconds = Histogram(
            "govern_http_request_seconds", "HTTP request latency by method, route and status.", ["method", "route", "status"],
            registry=self.registry,
        )

        def snapshot(name: str, documentation: str, labels: tuple[str, ...] | list[str] = ()) -> Gauge:
            """A gauge of what the database holds, set at each scrape: the latest process's reading is the truth."""
            return Gauge(name, documentation, labels, registry=self.registry, multiprocess_mode="mostrecent")

        self.lineage_pending = snapshot(
            "govern_lineage_outbox_pending", "Lineage events committed but not yet delivered.")
        self.lineage_failing = snapshot(
            "govern_lineage_outbox_failing", "Undelivered lineage events that failed at least once.")
        self.lineage_parked = snapshot(
            "govern_lineage_outbox_parked", "Lineage events whose delivery was given up, parked with their error.")
        self.lineage_oldest_age = snapshot(
            "govern_lineage_outbox_oldest_age_seconds", "Age of the oldest undelivered lineage event (0 when none).")

        self.jobs = snapshot("govern_jobs", "Dispatch jobs by status.", ["status"])
        self.reproductions = snapshot(
            "govern_reproductions", "Finished reproductions of simulator runs, by whether the result hash matched.", ["matched"])
        self.reproducibility = snapshot(
            "govern_reproducibility_ratio", "Share of finished reproductions whose result hash matched the original (1 when none).")

    def observe_bundle(self, revision: str, engine: str) -> None:
        labels = (revision, engine)
        if labels == self.bundle_labels:
            return
        if self.bundle_labels is not None:
            self.bundle.labels(*self.bundle_labels).set(0)  # a process's file keeps a removed series: zero it first
            self.bundle.remove(*self.bundle_labels)
        self.bundle.labels(*labels).set(1)
        self.bundle_labels = labels

    def observe_dispatch(self, jobs_by_status: dict[str, int], matched: int, reproduced: int) -> None:
        for status, count in jobs_by_status.items():
            self.jobs.labels(status).set(count)
        self.reproductions.labels("true").set(matched)
        self.reproductions.labels("false").set(reproduced - matched)
        self.reproducibility.set(matched / reproduced if reproduced else 1.0)

    def observe_lineage(self, backlog: Backlog) -> None:
        self.lineage_pending.set(backlog.pending)
        self.lineage_failing.set(backlog.failing)
        self.lineage_parked.set(backlog.parked)
        age = (time.time() - backlog.oldest_pending_at.timestamp()) if backlog.oldest_pending_at else 0.0
        self.lineage_oldest_age.set(max(age, 0.0))

    def observe_decision(self, decision: Decision, kind: str) -> None:
        self.decisions.labels(kind, decision.outcome.value).inc()
        self.decision_seconds.observe(decision.evaluation_ms / 1000)
        for effect, findings in (("deny", decision.deny), ("warn", decision.warn), ("waived", decision.waived)):
            for finding in findings:
                self.rules.labels(finding.rule, effect).inc()

    def exposition(self) -> Response:
        if self.shared_dir is None:
            return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)
        every_process = CollectorRegistry()
        multiprocess.MultiProcessCollector(every_process, path=str(self.shared_dir))  # type: ignore[no-untyped-call]
        return Response(generate_latest(every_process), media_type=CONTENT_TYPE_LATEST)

    def close(self) -> None:
        """A server process that stops drops out of the live gauges (its counters keep counting in the sums)."""
        if self.shared_dir is not None:
            multiprocess.mark_process_dead(os.getpid(), str(self.shared_dir))  # type: ignore[no-untyped-call]




class HttpLatency:
    """ASGI middleware that times every HTTP request by method, route and status. Plain ASGI rather than
    Starlette's BaseHTTPMiddleware, which adds a task and a stream per request to every call."""

    def __init__(self, app: ASGIApp, metrics: ServiceMetrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def send_noting_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, send_noting_status)
        finally:
            path = getattr(scope.get("route"), "path", "unmatched")
            self.metrics.http_seconds.labels(scope["method"], path, str(status)).observe(time.perf_counter() - started)
