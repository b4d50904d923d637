"""The seconds between two stored times, worked out by the database (SQLite and PostgreSQL spell it
differently), so a percentile reads one number per row rather than two timestamps to parse."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Float
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.functions import FunctionElement


class seconds_between(FunctionElement[float]):  # noqa: N801  (used like the SQL function it stands for)
    """`seconds_between(earlier, later)`: later − earlier in seconds, as a float."""

    type = Float()
    inherit_cache = True
    name = "seconds_between"


@compiles(seconds_between)
def _julian_days(element: seconds_between, compiler: Any, **kw: Any) -> str:
    """SQLite keeps times as ISO text, which julianday reads (to tens of microseconds)."""
    earlier, later = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"((julianday({later}) - julianday({earlier})) * 86400.0)"


@compiles(seconds_between, "postgresql")
def _epoch(element: seconds_between, compiler: Any, **kw: Any) -> str:
    earlier, later = (compiler.process(clause, **kw) for clause in element.clauses)
    return f"CAST(EXTRACT(EPOCH FROM ({later} - {earlier})) AS DOUBLE PRECISION)"
