"""The policy the running service decides with: a bundle, its engine and the checker, swapped in together;
and reloads that reach every server process.

Each server process loads its bundle itself, so a reload asked of one process is recorded in the database
(the one `policy_reloads` row: a generation that grows by one per reload) and every process reads that row
every `RELOAD_POLL_S` seconds and loads the configured bundle again when the generation has grown.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime

from fastapi import FastAPI
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import SQLAlchemyError
from sqlmodel import Session

from govern.check.checker import Checker
from govern.circuit.profiling import profiling_options
from govern.db.database import reading
from govern.db.readiness import SchemaGate
from govern.db.tables import PolicyReloadRecord, table_of
from govern.policy.bundle import BundleError, PolicyBundle, load_configured_bundle
from govern.policy.engines import EngineError, PolicyEngine
from govern.policy.engines.factory import build_engine
from govern.records.policy_revisions import store_revision
from govern.settings import Settings

log = logging.getLogger(__name__)

RELOAD_POLL_S = 1.0
"""How often every server process looks for a reload made in another: the most it lags behind (plus the
time it takes to load the bundle)."""

_RELOADS = table_of(PolicyReloadRecord)


def install_bundle(app: FastAPI, bundle: PolicyBundle) -> None:
    """Build an engine for the bundle and swap it in; raises (and changes nothing) if the bundle is refused."""
    _swap(app, bundle, build_engine(app.state.settings, bundle))


def _swap(app: FastAPI, bundle: PolicyBundle, engine: PolicyEngine) -> None:
    """Requests read the engine once, so each sees either the old bundle or the new one, never a mix."""
    settings: Settings = app.state.settings
    previous = getattr(app.state, "engine", None)
    app.state.bundle, app.state.engine = bundle, engine
    app.state.checker = Checker(engine, circuit_limits=settings.circuit_limits, **profiling_options(settings))
    if previous is not None:
        previous.close()


def recorded_reload(database: Engine) -> tuple[int, str | None]:
    """The latest reload's generation and the bundle revision it loaded; (0, None) before any."""
    with reading(database).connect() as connection:
        row = connection.execute(select(_RELOADS.c.generation, _RELOADS.c.bundle_revision)).first()
    return (row.generation, row.bundle_revision) if row is not None else (0, None)


def record_reload(session: Session, bundle_revision: str) -> int:
    """Count one more reload in the request's own transaction (on SQLite it holds the write lock already);
    one atomic update, so concurrent reloads get distinct generations. The caller commits."""
    generation = session.execute(
        update(_RELOADS).where(_RELOADS.c.id == 1)
        .values(generation=_RELOADS.c.generation + 1, bundle_revision=bundle_revision, reloaded_at=datetime.now(UTC))
        .returning(_RELOADS.c.generation)
    ).scalar_one()
    return int(generation)


class PolicyFollower:
    """Keeps this process's bundle at the latest reload, whichever process it was asked of."""

    def __init__(self, app: FastAPI, database: Engine, poll_s: float = RELOAD_POLL_S) -> None:
        self.app, self.database, self.poll_s = app, database, poll_s
        self.generation = 0
        self._lock = threading.Lock()

    def note_current(self) -> None:
        """Called before the first bundle loads: reloads recorded until now are in it. A database that does
        not answer yet leaves 0, so the first reading reloads once, which is merely redundant."""
        try:
            self.generation = recorded_reload(self.database)[0]
        except SQLAlchemyError:
            self.generation = 0

    def reload(self, session: Session) -> int:
        """Load the configured bundle, record the reload for the other processes (committed), then swap it in
        here; a refused bundle (BundleError, EngineError) or a database error changes and records nothing."""
        settings: Settings = self.app.state.settings
        with self._lock:
            bundle = load_configured_bundle(settings)
            engine = build_engine(settings, bundle)
            try:
                generation = record_reload(session, bundle.revision)
                store_revision(session, bundle)
                session.commit()
            except BaseException:
                engine.close()
                raise
            _swap(self.app, bundle, engine)
            self.generation = generation
        return generation

    def follow(self) -> None:
        """Load the configured bundle again if a reload was recorded since this process last loaded it."""
        generation, wanted = recorded_reload(self.database)
        if generation <= self.generation:
            return
        with self._lock:
            if generation <= self.generation:
                return
            try:
                install_bundle(self.app, load_configured_bundle(self.app.state.settings))
            except (BundleError, EngineError) as exc:
                log.error("policy reload %d refused in this process; its running bundle stays: %s", generation, exc)
            else:
                self.keep_revision()
                if self.app.state.bundle.revision != wanted:
                    log.warning("policy reload %d: this process loaded bundle %s, the reload loaded %s (the bundle changed since)",
                                generation, self.app.state.bundle.revision, wanted)
            self.generation = generation

    def keep_revision(self) -> None:
        """Keep the bundle this process decides with among the stored revisions, so its decisions can be replayed."""
        bundle: PolicyBundle | None = self.app.state.bundle
        if bundle is not None:
            with Session(self.database) as session:
                store_revision(session, bundle)
                session.commit()

    @contextmanager
    def following(self, schema: SchemaGate) -> Iterator[None]:
        """Follow reloads in a background thread once the schema is ready, until the block ends."""
        stop = threading.Event()

        def poll() -> None:
            if not schema.wait(stop, self.poll_s):
                return
            kept = False
            while not kept and not stop.is_set():
                try:
                    self.keep_revision()
                    kept = True
                except SQLAlchemyError as exc:  # the database is away: try again
                    log.warning("the policy revision is not stored yet: %s", exc)
                    stop.wait(self.poll_s)
            while not stop.wait(self.poll_s):
                try:
                    self.follow()
                except SQLAlchemyError as exc:  # the database is away: the next poll tries again
                    log.debug("policy reloads not read: %s", exc)
                except Exception:  # never stop following: a process left behind would decide with a stale bundle
                    log.exception("policy reloads not followed this time")

        thread = threading.Thread(target=poll, name="govern-policy-follower", daemon=True)
        thread.start()
        try:
            yield
        finally:
            stop.set()
            thread.join(timeout=30)
