"""Vendors and procurement sandboxes.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "vendors",
        sa.Column("name", sa.String(length=200), primary_key=True),
        sa.Column("approved", sa.Boolean(), nullable=False),
        sa.Column("data_processing_agreement", sa.Boolean(), nullable=False),
        sa.Column("regions", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "sandboxes",
        sa.Column("id", sa.String(length=200), primary_key=True),
        sa.Column("team", sa.String(length=63), nullable=False),
        sa.Column("vendor", sa.String(length=200), sa.ForeignKey("vendors.name"), nullable=False),
        sa.Column("devices", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("approved_by", sa.String(length=64), nullable=True),
        sa.Column("start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("end", sa.DateTime(timezone=True), nullable=False),
        sa.Column("budget", sa.Numeric(14, 2), nullable=False),
        sa.Column("spent", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("allows_confidential", sa.Boolean(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_sandboxes_team", "sandboxes", ["team"])
    op.create_index("ix_sandboxes_status", "sandboxes", ["status"])


def downgrade() -> None:
    op.drop_table("sandboxes")
    op.drop_table("vendors")
