"""What a client may send to write a row and what it is shown of one (never a secret, a hash or the row
itself). The records, the admission transaction, the API and the CLI all use these, so they sit beside the
tables, below all of them; the API's own request and response models are in govern.api.schemas."""

from __future__ import annotations

import uuid
from datetime import datetime
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from govern.db.tables import Role
from govern.manifest.schema import DnsLabel, PriceModel


class TokenCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    role: Role
    team: DnsLabel
    name: str = "token"


class TokenPublic(BaseModel):
    """What anyone may see of a token: never its secret or hash."""

    model_config = ConfigDict(from_attributes=True)

    id: uuid.UUID
    name: str
    role: Role
    team: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


class VendorUpsert(BaseModel):
    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    approved: bool = True
    data_processing_agreement: bool = False
    regions: list[str] = []
    price_model: PriceModel | None = None


class VendorPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, alias_generator=to_camel, populate_by_name=True)

    name: str
    approved: bool
    data_processing_agreement: bool
    regions: list[str]
    price_model: PriceModel | None = None
    price_model_problem: str | None = Field(
        default=None, description="Why the stored price model is not valid (decisions for this vendor are denied until it is corrected)."
    )


class SubmissionPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    team: str
    name: str
    outcome: str
    decision_id: str
    sandbox: str | None
    estimated_cost: Decimal
    currency: str
    circuit_sha256: str
    run_id: str
    created_by: str
    created_at: datetime
    job_status: str | None = None

