"""Commands for whoever runs govern: `serve` the service, run a dispatch `worker` beside it, or run the whole
path against a service of the `demo`'s own."""

from __future__ import annotations

import os
import shutil
import signal
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Optional

import typer

from govern.cli.common import database_errors, database_or_exit, fail, settings_or_exit, stderr_console
from govern.exit_codes import EXIT_DENIED

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8080,
    migrate: Annotated[bool, typer.Option("--migrate", help="Apply database migrations before serving.")] = False,
    workers: Annotated[
        Optional[int],
        typer.Option("--workers", min=1, help="Server processes; default: one per core on PostgreSQL, one on SQLite (a single "
                     "writer: more are refused)."),
    ] = None,
    with_worker: Annotated[
        bool, typer.Option("--with-worker", help="Also run a dispatch worker in each server process.")
    ] = False,
) -> None:
    """Run the governance service (HTTP API under /v1, OpenAPI docs at /docs)."""
    # lazy: start-up time (fastapi, sqlalchemy)
    from govern.api import create_app
    from govern.api.server import serve as bounded_server
    from govern.db.database import upgrade

    settings = settings_or_exit()
    database = database_or_exit()  # an unusable URL is refused here, before any server process starts
    processes = workers or default_server_processes(database.dialect.name)
    if processes > 1 and database.dialect.name == "sqlite":
        raise fail(f"--workers {processes}: SQLite takes one server process (it has one writer, and lineage delivery and dispatch "
                   "keep to one process at a time only on PostgreSQL); use PostgreSQL for several")
    if migrate or settings.migrate_on_start:
        upgrade(database)
    else:
        refuse_missing_sqlite_file(database)
    database.dispose()
    shown = database.url.render_as_string(hide_password=True)
    stderr_console().print(f"govern service on http://{host}:{port} (database {shown}, {processes} server processes)", markup=False)
    if processes == 1:
        bounded_server(create_app(settings, with_worker=with_worker), host=host, port=port, workers=1,
                       max_header_bytes=settings.max_header_bytes)
        return
    factory = "govern.api:create_app_with_worker" if with_worker else "govern.api:create_app"
    with shared_metrics_dir():
        bounded_server(factory, host=host, port=port, workers=processes, max_header_bytes=settings.max_header_bytes)


def default_server_processes(dialect: str) -> int:
    """One server process per core this process may run on, on PostgreSQL; one on SQLite, whose single
    writer makes more processes only queue behind its write lock."""
    if dialect == "sqlite":
        return 1
    counted = getattr(os, "process_cpu_count", None)  # Python 3.13: the cores this process may use
    if counted is not None:
        return int(counted() or 1)
    if hasattr(os, "sched_getaffinity"):  # the same count before 3.13, where the platform has it
        return len(os.sched_getaffinity(0)) or 1
    return os.cpu_count() or 1


@contextmanager
def shared_metrics_dir() -> Iterator[None]:
    """A fresh Prometheus multiprocess directory for this run's server processes, removed (and the variable
    unset) when it ends.

    The launcher sets the variable in its own environment because uvicorn's worker processes inherit it and
    prometheus_client reads nothing else; a directory the operator named is used, emptied first, as the
    client's documentation asks."""
    from govern.api.metrics import MULTIPROCESS_DIR_VARIABLE  # lazy: start-up time (prometheus_client)

    given = os.environ.get(MULTIPROCESS_DIR_VARIABLE)
    path = Path(given) if given else Path(tempfile.mkdtemp(prefix="govern-metrics-"))
    if given:
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
    os.environ[MULTIPROCESS_DIR_VARIABLE] = str(path)
    try:
        yield
    finally:
        if not given:
            os.environ.pop(MULTIPROCESS_DIR_VARIABLE, None)  # the launcher's own environment is as it was
            shutil.rmtree(path, ignore_errors=True)


def refuse_missing_sqlite_file(database: Engine) -> None:
    """Connecting would create an empty SQLite file, and a service on it would never be ready: exit 2 instead."""
    from govern.db.readiness import UPGRADE_ADVICE, missing_sqlite_file  # lazy: start-up time (sqlalchemy, alembic)

    if (path := missing_sqlite_file(database)) is not None:
        raise fail(f"no database at {path} (only migrating creates a SQLite file): {UPGRADE_ADVICE}")


def worker(
    once: Annotated[bool, typer.Option("--once", help="Process the queue until it is empty, then exit.")] = False,
) -> None:
    """Dispatch allowed work: take jobs from the service database's queue and run them on their backends.

    Any number of workers may share a PostgreSQL queue; SQLite takes one. SIGTERM or Ctrl-C stops the
    worker after its current job; a job left unfinished is taken over once its lease expires."""
    # lazy: start-up time (logging; sqlalchemy and the backends)
    import logging

    from govern.db.readiness import schema_problem
    from govern.dispatch.worker import Worker, worker_options

    settings = settings_or_exit()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    database = database_or_exit()
    refuse_missing_sqlite_file(database)
    with database_errors():
        if problem := schema_problem(database):
            raise fail(f"not ready: {problem}")
    dispatcher = Worker(database, worker_options(settings))
    stderr_console().print(f"govern worker {dispatcher.worker_id} on {settings.resolved_database_url()}", markup=False)
    with database_errors():
        if once:
            dispatcher.run_until_idle()
            return
        stop = threading.Event()
        signal.signal(signal.SIGTERM, lambda *_: stop.set())
        try:
            dispatcher.run(stop)
        except KeyboardInterrupt:
            stop.set()


def demo(
    database: Annotated[
        Optional[Path], typer.Option("--database", help="SQLite file for the demo (default: demo.db in the user data folder).")
    ] = None,
) -> None:
    """Run the whole path on embedded defaults with the packaged examples: check, submit, decide, lineage,
    dispatch to Aer (ideal and an IBM device's noise), result, reproduce, audit."""
    # lazy: start-up time (rich; the demo loads the service, uvicorn and qiskit)
    from rich.console import Console

    from govern.cli.demo import DemoFailed, default_database, run_demo

    console = Console(highlight=False, soft_wrap=True)  # lines are never broken, so ids stay whole in a file or a pipe
    try:
        run_demo(database or default_database(), console)
    except DemoFailed as exc:
        stderr_console().print(f"demo failed: {exc}", markup=False)
        raise typer.Exit(EXIT_DENIED) from None
