"""Query parameters as the console's filter forms send them: an empty field means no filter, and the
bounds are the API's (govern.api.params)."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import Query
from pydantic import BeforeValidator, Field

from govern.api.params import Moment


def _blank_is_none(value: Any) -> Any:
    return None if isinstance(value, str) and not value.strip() else value


Blank = BeforeValidator(_blank_is_none)


def text(max_length: int) -> Any:
    return Annotated[Annotated[str, Field(max_length=max_length)] | None, Blank, Query()]


TeamQuery = text(63)
RuleQuery = text(80)
RuleIdQuery = Annotated[Annotated[str, Field(pattern=r"^[A-Z]+-\d+$", max_length=80)] | None, Blank, Query()]
NameQuery = text(200)
OutcomeQuery = Annotated[Literal["allowed", "warned", "denied"] | None, Blank, Query()]
SinceQuery = Annotated[Moment | None, Blank, Query()]
UntilQuery = Annotated[Moment | None, Blank, Query()]
CursorQuery = Annotated[Annotated[int, Field(ge=0, le=2**63 - 1)] | None, Blank, Query()]
PageSize = Annotated[int, Blank, Query(ge=1, le=200)]
