"""`GET /v1/audit/checkpoint`, `GET /v1/audit/decisions/{id}/proof` and `GET /v1/audit/consistency`: the
decision log's Merkle tree for auditors (audit.read), each answer checkable offline with the public key alone
(`govern audit verify-proof`, `govern audit consistency`).

Checkpoints are signed now, with the key GOVERN_AUDIT_SIGNING_KEY names, read per request (so a rotated key
takes effect at once, and the key is never kept where a crash report could show it); a service without one
answers 503, saying so.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Path, Query, status
from fastapi.responses import PlainTextResponse
from pydantic import BaseModel, Field

from govern.api.deps import (
    KeptTreeDep,
    PolicyEngineDep,
    ReadSessionDep,
    SettingsDep,
    TokenDep,
    audit_signing_key,
    require,
)
from govern.api.refusals import refusals
from govern.api.schemas import ErrorPublic
from govern.audit.merkle import ProofError
from govern.audit.tree import MAX_TREE_SIZE, prove, prove_consistency, signed_checkpoint

router = APIRouter(prefix="/v1/audit", tags=["audit"])

NO_SIGNING_KEY: dict[int | str, dict[str, Any]] = {
    503: {
        "model": ErrorPublic,
        "description": "No audit signing key is configured (GOVERN_AUDIT_SIGNING_KEY) or it cannot be read; or the database is unavailable.",
    }
}


class RecordProofPublic(BaseModel):
    """One record with its inclusion proof (RFC 9162 audit path, hex) under a checkpoint signed now."""

    version: int
    record: dict[str, Any] = Field(description="The record's columns as hashed, and its hash.")
    leaf_index: int = Field(description="The record's leaf in the tree: its seq - 1.")
    tree_size: int
    inclusion_proof: list[str]
    checkpoint: str = Field(description="A C2SP signed note: origin, tree size, root hash, signature.")


class ConsistencyProofPublic(BaseModel):
    """The hashes (RFC 9162 2.1.4, hex) showing the tree of tree_size_2 records extends that of tree_size_1."""

    version: int
    tree_size_1: int
    tree_size_2: int
    consistency_proof: list[str]


@router.get(
    "/checkpoint", response_class=PlainTextResponse,
    responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}}, **refusals(403), **NO_SIGNING_KEY},
)
def checkpoint(token: TokenDep, engine: PolicyEngineDep, session: ReadSessionDep, settings: SettingsDep, kept: KeptTreeDep) -> PlainTextResponse:
    """A checkpoint of the log as it stands, signed now (a C2SP signed note, text; compliance and admin)."""
    require(engine, token, "audit.read", {})
    note, _ = signed_checkpoint(session, settings.audit_log_origin, audit_signing_key(settings), kept)
    return PlainTextResponse(note)


@router.get("/decisions/{decision_id}/proof", responses={**refusals(403, 404), **NO_SIGNING_KEY})
def record_proof(
    decision_id: Annotated[str, Path(max_length=200)],
    token: TokenDep, engine: PolicyEngineDep, session: ReadSessionDep, settings: SettingsDep, kept: KeptTreeDep,
) -> RecordProofPublic:
    """The proof that the decision's record is in the log, under a checkpoint signed now (compliance and admin)."""
    require(engine, token, "audit.read", {})
    proof = prove(session, decision_id, settings.audit_log_origin, audit_signing_key(settings), kept)
    if proof is None:
        raise HTTPException(status.HTTP_404_NOT_FOUND, "no record of this decision in the decision log")
    return RecordProofPublic.model_validate(proof.to_json())


@router.get("/consistency", responses=refusals(403, 422))
def consistency(
    token: TokenDep, engine: PolicyEngineDep, session: ReadSessionDep, kept: KeptTreeDep,
    first: Annotated[int, Query(alias="from", ge=0, le=MAX_TREE_SIZE, description="The older checkpoint's tree size.")],
    second: Annotated[int, Query(alias="to", ge=0, le=MAX_TREE_SIZE, description="The newer checkpoint's tree size.")],
) -> ConsistencyProofPublic:
    """The consistency proof from the tree of `from` records to that of `to` (compliance and admin); needs no key."""
    require(engine, token, "audit.read", {})
    try:
        return ConsistencyProofPublic.model_validate(prove_consistency(session, first, second, kept))
    except ProofError as exc:
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, str(exc)) from None
