"""Pilot amendments: a proposed change of a sandbox's pilot terms, the terms it replaces, why, and who
proposed and decided it; the terms change only when someone other than the proposer approves.

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-04
"""

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "pilot_amendments",
        sa.Column("id", sa.String(length=40), primary_key=True),
        sa.Column("sandbox_id", sa.String(length=200), sa.ForeignKey("sandboxes.id"), nullable=False),
        sa.Column("terms", sa.JSON(), nullable=False),
        sa.Column("replaces", sa.JSON(), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_by", sa.String(length=64), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_pilot_amendments_sandbox_id", "pilot_amendments", ["sandbox_id"])


def downgrade() -> None:
    op.drop_table("pilot_amendments")
