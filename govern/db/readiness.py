"""Whether a database is ready for this version of govern: it exists, and its schema is at the newest
migration. A service started before `govern db upgrade` is not ready, says why once, and becomes ready once
the upgrade has run, without a restart."""

from __future__ import annotations

import logging
import threading
from pathlib import Path

from sqlalchemy.engine import Engine
from sqlalchemy.exc import SQLAlchemyError

from govern.db.database import current_revision, head_revision

log = logging.getLogger(__name__)

UPGRADE_ADVICE = "run `govern db upgrade` or start with `--migrate`"


def schema_problem(engine: Engine) -> str | None:
    """None when the schema is at head, else what it is at, what is needed and what to run; raises
    SQLAlchemyError when the database does not answer."""
    current, head = current_revision(engine), head_revision(engine)
    if current == head:
        return None
    return f"schema at revision {current or 'none'}, this version needs {head}; {UPGRADE_ADVICE}"


def missing_sqlite_file(engine: Engine) -> Path | None:
    """The file of a SQLite database that does not exist yet (connecting would create it empty), else None."""
    url = engine.url
    if url.get_backend_name() != "sqlite" or not url.database or url.database == ":memory:" or url.query.get("mode") == "memory":
        return None
    path = Path(url.database)
    return None if path.exists() else path


class SchemaGate:
    """The service's readiness: asks the database until its schema is at head, then remembers that (the
    schema does not go back while govern runs). Each new reason for not being ready is logged once."""

    def __init__(self, engine: Engine):
        self.engine = engine
        self.ready = False
        self._said: str | None = None
        self._saying = threading.Lock()

    def problem(self) -> str | None:
        """`not ready: …`, or None once ready; raises SQLAlchemyError when the database does not answer."""
        if self.ready:
            return None
        problem = schema_problem(self.engine)
        self.ready = problem is None
        self._say(None if problem is None else f"not ready: {problem}")
        return None if problem is None else f"not ready: {problem}"

    def wait(self, stop: threading.Event, poll_s: float) -> bool:
        """Block until ready (True) or `stop` is set (False): what background work waits for, quietly."""
        while not stop.is_set():
            try:
                if self.problem() is None:
                    return True
            except SQLAlchemyError as exc:
                self._say(f"not ready: the database does not answer ({exc.__class__.__name__})")
            stop.wait(poll_s)
        return False

    def _say(self, message: str | None) -> None:
        with self._saying:
            if message is not None and message != self._said:
                log.error("%s", message)
            self._said = message
