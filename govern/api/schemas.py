"""The API's own request and response models: what routes accept and answer beyond a record's public view
(those are in govern.db.public, which the records and the CLI share), and the bodies of its refusals."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from govern.db.public import JobPublic, SubmissionPublic
from govern.policy.decision import Decision


class CheckRequest(BaseModel):
    """A submission to check: the manifest as JSON, and the circuit's OpenQASM when the manifest names a file."""

    model_config = ConfigDict(extra="forbid")

    manifest: dict[str, Any]
    circuit: str | None = None

    @property
    def team(self) -> str:
        """metadata.team as sent, for authorization before validation ("" when the manifest has none)."""
        metadata = self.manifest.get("metadata")
        team = metadata.get("team") if isinstance(metadata, dict) else None
        return team if isinstance(team, str) else ""


class CheckResponse(BaseModel):
    outcome: str
    decision: Decision


class SubmissionResponse(BaseModel):
    submission: SubmissionPublic
    decision: Decision


class SubmissionPage(BaseModel):
    items: list[SubmissionPublic]
    next_cursor: int | None


class JobList(BaseModel):
    items: list[JobPublic]


class PolicyInfo(BaseModel):
    revision: str
    bundle_revision: str
    engine: str
    rules: dict[str, dict[str, Any]]


class ErrorPublic(BaseModel):
    """The body of every refusal: `detail` says what is wrong; some refusals add fields of their own."""

    model_config = ConfigDict(extra="allow")

    detail: str


class FieldProblem(BaseModel):
    field: str
    message: str
    line: int | None
    column: int | None


class InvalidSubmission(ErrorPublic):
    """A manifest or circuit that cannot be checked: each problem names its field and, where known, line:col."""

    source: str
    problems: list[FieldProblem]


class RequestField(BaseModel):
    """One field FastAPI's request validation refused."""

    model_config = ConfigDict(extra="allow")

    loc: list[str | int]
    msg: str
    type: str


class InvalidRequest(BaseModel):
    """FastAPI's request validation: the fields that do not fit the operation's parameters or body."""

    detail: list[RequestField]


class DeniedSubmission(ErrorPublic):
    """A submission the policy denied: recorded, with its decision."""

    submission: SubmissionPublic
    decision: Decision
