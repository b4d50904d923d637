"""The governance service: `create_app()` builds the FastAPI application (nothing is built at import).

Bad input is a 4xx with a precise message, an unreachable database a 503; never a traceback.
"""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager, suppress

import anyio.to_thread
from fastapi import FastAPI, Request, status
from fastapi.responses import JSONResponse
from fastapi_offline import FastAPIOffline
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError, SQLAlchemyError

from govern.api import access_log
from govern.api.bodies import BoundedBodies, located_in_body
from govern.api.live_policy import PolicyFollower, install_bundle
from govern.api.metrics import HttpLatency, ServiceMetrics, multiprocess_dir
from govern.api.refusals import document_refusals
from govern.api.routes import (
    audit,
    check,
    dispatch,
    evidence,
    facets,
    health,
    impact,
    kpis,
    lineage,
    marquez,
    outbox,
    pilot_amendments,
    pilots,
    policy,
    procurement,
    proofs,
    replay,
    submissions,
    waivers,
)
from govern.audit.kept_tree import KeptTree
from govern.audit.log import GroupCommit
from govern.check.checker import Checker
from govern.circuit.profiling import profiling_options
from govern.console.app import install_console
from govern.db.database import create_db_engine, reading, upgrade
from govern.db.readiness import SchemaGate
from govern.dispatch.worker import Worker, worker_options
from govern.errors import InputError
from govern.lineage.delivery import Deliverer, lineage_client
from govern.policy.bundle import BundleError, load_configured_bundle
from govern.policy.engines import EngineError, UnavailableEngine
from govern.records.errors import RecordError
from govern.records.tokens import TokenCache
from govern.settings import Settings, load_settings


def create_app(settings: Settings | None = None, *, with_worker: bool = False) -> FastAPI:
    """The service; `with_worker` also runs a dispatch worker in the process (the embedded SQLite setup)."""
    settings = settings or load_settings()
    access_log.install()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        app.state.db = create_db_engine(settings.resolved_database_url())
        anyio.to_thread.current_default_thread_limiter().total_tokens = settings.request_threads
        app.state.reader = reading(app.state.db)
        app.state.decision_log = GroupCommit(app.state.db)
        if settings.migrate_on_start:
            upgrade(app.state.db)
        app.state.schema = SchemaGate(app.state.db)
        with suppress(SQLAlchemyError):  # a database that does not answer yet is each request's 503
            app.state.schema.problem()  # logs why the service is not ready, once
        app.state.policy_follower = PolicyFollower(app, app.state.db)
        app.state.policy_follower.note_current()  # before the bundle loads, so no reload falls between the two
        try:
            install_bundle(app, load_configured_bundle(settings))
        except (BundleError, EngineError) as exc:
            app.state.bundle = None
            app.state.engine = UnavailableEngine(str(exc))
            app.state.checker = Checker(app.state.engine, circuit_limits=settings.circuit_limits, **profiling_options(settings))
        app.state.deliverer = Deliverer(app.state.db, lineage_client(app.state.db), max_attempts=settings.lineage_max_attempts)
        with (
            app.state.policy_follower.following(app.state.schema),
            _delivering(app.state.deliverer, app.state.schema, settings),
            _working(app.state.db, app.state.schema, settings, with_worker) as worker,
        ):
            app.state.worker = worker
            yield
        app.state.engine.close()
        app.state.db.dispose()
        app.state.metrics.close()

    app = FastAPIOffline(  # /docs and /redoc with their assets from the package, not a CDN (offline networks)
        title="govern",
        summary="Governance and compliance decisions for quantum experiments.",
        version="1",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.metrics = ServiceMetrics(multiprocess_dir())
    app.state.tokens = TokenCache(settings.token_cache_s)
    app.state.log_tree = KeptTree()
    app.add_middleware(BoundedBodies, max_bytes=settings.max_request_bytes, encoded_paths=lineage.ENCODED_PATHS)
    app.add_middleware(HttpLatency, metrics=app.state.metrics)
    for routes in (health, check, outbox, facets, audit, proofs, replay, policy, impact, procurement, pilots, pilot_amendments, waivers, submissions, dispatch, evidence, kpis, lineage, marquez):
        app.include_router(routes.router)
    install_console(app)
    # Starlette types each handler as taking any Exception, though it passes only the class registered.
    app.add_exception_handler(InputError, _input_error)  # type: ignore[arg-type]
    app.add_exception_handler(RecordError, _record_refused)  # type: ignore[arg-type]
    app.add_exception_handler(OperationalError, _database_unavailable)  # type: ignore[arg-type]
    document_refusals(app)
    return app


def create_app_with_worker() -> FastAPI:
    """`create_app(with_worker=True)` as an import string names it: each server process of `govern serve
    --workers N --with-worker` runs a dispatch worker of its own (uvicorn builds the app in each process)."""
    return create_app(with_worker=True)


@contextmanager
def _delivering(deliverer: Deliverer, schema: SchemaGate, settings: Settings) -> Iterator[None]:
    """Run the lineage deliverer beside the service, when enabled and once the schema is ready, and stop it
    with the service."""
    if not settings.lineage_delivery:
        yield
        return
    stop = threading.Event()

    def deliver() -> None:
        if schema.wait(stop, settings.lineage_poll_s):
            deliverer.run(stop, settings.lineage_poll_s)

    worker = threading.Thread(target=deliver, name="govern-lineage", daemon=True)
    worker.start()
    try:
        yield
    finally:
        stop.set()
        deliverer.wake()
        worker.join(timeout=30)
        deliverer.client.close(timeout=5)


@contextmanager
def _working(database: Engine, schema: SchemaGate, settings: Settings, enabled: bool) -> Iterator[Worker | None]:
    """Run a dispatch worker beside the service, when asked and once the schema is ready, and stop it with
    the service."""
    if not enabled:
        yield None
        return
    stop = threading.Event()
    worker = Worker(database, worker_options(settings))

    def work() -> None:
        if schema.wait(stop, worker.options.poll_s):
            worker.run(stop)

    thread = threading.Thread(target=work, name="govern-worker", daemon=True)
    thread.start()
    try:
        yield worker
    finally:
        stop.set()
        worker.wake()
        thread.join(timeout=30)


async def _input_error(request: Request, exc: InputError) -> JSONResponse:
    exc = located_in_body(request.scope, exc)
    problems = [{"field": p.field, "message": p.message, "line": p.line, "column": p.column} for p in exc.problems]
    return JSONResponse({"detail": "invalid submission", "source": exc.source, "problems": problems}, status.HTTP_422_UNPROCESSABLE_CONTENT)


async def _record_refused(_: Request, exc: RecordError) -> JSONResponse:
    """A request the records refuse (bad, unknown or conflicting input) is the 4xx its error names."""
    return JSONResponse({"detail": str(exc)}, exc.status)


async def _database_unavailable(_: Request, exc: OperationalError) -> JSONResponse:
    return JSONResponse({"detail": "the database is unavailable; nothing was recorded"}, status.HTTP_503_SERVICE_UNAVAILABLE)
