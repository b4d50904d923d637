"""The service database: an engine factory, sessions, and migrations (Alembic) applied on request.

SQLite is the embedded default; PostgreSQL (psycopg 3) is what production and the test suite use too.
Nothing here runs at import time: callers build an engine from settings.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from importlib.resources import files

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.pool import ConnectionPoolEntry
from sqlmodel import Session, create_engine


def normalise_url(url: str) -> str:
    """Plain `postgresql://` URLs use psycopg 3, the driver govern ships with."""
    parsed = make_url(url)
    if parsed.drivername in {"postgresql", "postgres"}:
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed.render_as_string(hide_password=False)


SUPPORTED_DATABASES = ("sqlite", "postgresql")
POOL_SIZE = 16
POOL_OVERFLOW = 16


def create_db_engine(url: str) -> Engine:
    """An engine for a SQLite or PostgreSQL URL; any other URL is an ArgumentError naming what is supported."""
    url = normalise_url(url)
    if make_url(url).get_backend_name() not in SUPPORTED_DATABASES:
        raise ArgumentError(f"{make_url(url).get_backend_name()} databases are not supported: use sqlite:///PATH or postgresql://HOST/DATABASE")
    if url.startswith("sqlite"):
        engine = create_engine(url, connect_args={"check_same_thread": False})
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin_immediate)
        return engine
    # A pool as large as the requests a server process runs at once: past it, SQLAlchemy opens an overflow
    # connection per request and closes it after, and connecting costs more than the request's queries.
    return create_engine(url, pool_pre_ping=True, pool_size=POOL_SIZE, max_overflow=POOL_OVERFLOW)


def _sqlite_pragmas(connection: sqlite3.Connection, _record: ConnectionPoolEntry) -> None:
    """Foreign keys on, WAL so readers do not block the writer, and transactions begun by SQLAlchemy."""
    connection.isolation_level = None
    cursor = connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _sqlite_begin_immediate(connection: Connection) -> None:
    """Take SQLite's write lock when a transaction begins, so a read-then-write (appending to the decision
    log) cannot race another writer; savepoints then work as on PostgreSQL. Long reads use `reading()`."""
    mode = connection.get_execution_options().get("sqlite_begin", "IMMEDIATE")
    connection.exec_driver_sql(f"BEGIN {mode}")


def reading(engine: Engine) -> Engine:
    """The engine for read-only work (checks' live context, token lookups, exports, verification): on SQLite
    its transactions begin deferred, so they never take the write lock nor queue behind a writer; on
    PostgreSQL they are READ ONLY, so the database refuses any write that slips in."""
    return engine.execution_options(sqlite_begin="DEFERRED", postgresql_readonly=True)


@contextmanager
def session_scope(engine: Engine) -> Iterator[Session]:
    """A session that commits when the block succeeds and rolls back when it raises."""
    with Session(engine) as session:
        try:
            yield session
            session.commit()
        except BaseException:
            session.rollback()
            raise


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(files("govern") / "migrations"))
    config.attributes["engine"] = engine
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    command.upgrade(alembic_config(engine), revision)


def current_revision(engine: Engine) -> str | None:
    with engine.connect() as connection:
        return MigrationContext.configure(connection).get_current_revision()


def head_revision(engine: Engine) -> str | None:
    return ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
