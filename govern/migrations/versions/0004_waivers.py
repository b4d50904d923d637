"""Waivers.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "waivers",
        sa.Column("id", sa.String(length=40), primary_key=True),
        sa.Column("rule", sa.String(length=20), nullable=False),
        sa.Column("team", sa.String(length=63), nullable=False),
        sa.Column("experiment", sa.String(length=63), nullable=False),
        sa.Column("sandbox", sa.String(length=200), nullable=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("requested_by", sa.String(length=64), nullable=False),
        sa.Column("approver", sa.String(length=64), nullable=True),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("expires", sa.DateTime(timezone=True), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_waivers_team", "waivers", ["team"])
    op.create_index("ix_waivers_status", "waivers", ["status"])


def downgrade() -> None:
    op.drop_table("waivers")
