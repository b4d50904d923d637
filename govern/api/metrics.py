"""Prometheus metrics for the service: decisions by outcome and rule, decision latency, HTTP latency, the
process and platform, the build, and the policy bundle revision in use.

Each app has its own registry (made by the app factory), so nothing is global and tests stay independent.
"""

from __future__ import annotations

import platform
import time

from fastapi import Response
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    Info,
    PlatformCollector,
    ProcessCollector,
    generate_latest,
)
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from govern.distribution import installed_version
from govern.lineage.outbox import Backlog
from govern.policy.decision import Decision


class ServiceMetrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        ProcessCollector(registry=self.registry)
        PlatformCollector(registry=self.registry)
        Info("govern_build", "The govern build serving: its version and the Python it runs on.", registry=self.registry).info(
            {"version": installed_version() or "0+unknown", "python": platform.python_version(), "implementation": platform.python_implementation()}
        )
        self.bundle = Info(
            "govern_policy_bundle", "The policy bundle the service decides with (its revision follows a reload).", registry=self.registry
        )
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

        self.lineage_pending = Gauge(
            "govern_lineage_outbox_pending", "Lineage events committed but not yet delivered.", registry=self.registry
        )
        self.lineage_failing = Gauge(
            "govern_lineage_outbox_failing", "Undelivered lineage events that failed at least once.", registry=self.registry
        )
        self.lineage_parked = Gauge(
            "govern_lineage_outbox_parked", "Lineage events whose delivery was given up, parked with their error.", registry=self.registry
        )
        self.lineage_oldest_age = Gauge(
            "govern_lineage_outbox_oldest_age_seconds", "Age of the oldest undelivered lineage event (0 when none).",
            registry=self.registry,
        )

        self.jobs = Gauge("govern_jobs", "Dispatch jobs by status.", ["status"], registry=self.registry)
        self.reproductions = Gauge(
            "govern_reproductions", "Finished reproductions of simulator runs, by whether the result hash matched.", ["matched"],
            registry=self.registry,
        )
        self.reproducibility = Gauge(
            "govern_reproducibility_ratio", "Share of finished reproductions whose result hash matched the original (1 when none).",
            registry=self.registry,
        )

    def observe_bundle(self, revision: str, engine: str) -> None:
        self.bundle.info({"revision": revision, "engine": engine})

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
        return Response(generate_latest(self.registry), media_type=CONTENT_TYPE_LATEST)




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
