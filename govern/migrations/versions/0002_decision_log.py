"""Decision log.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decision_log",
        sa.Column("seq", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("decision_id", sa.String(length=36), nullable=False, unique=True),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("actor", sa.String(length=64), nullable=False),
        sa.Column("team", sa.String(length=63), nullable=False),
        sa.Column("outcome", sa.String(length=16), nullable=False),
        sa.Column("bundle_revision", sa.String(length=80), nullable=False),
        sa.Column("input_hash", sa.String(length=80), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("prev_hash", sa.String(length=64), nullable=False),
        sa.Column("hash", sa.String(length=64), nullable=False, unique=True),
    )
    op.create_index("ix_decision_log_actor", "decision_log", ["actor"])
    op.create_index("ix_decision_log_team", "decision_log", ["team"])
    op.create_index("ix_decision_log_outcome", "decision_log", ["outcome"])
    op.create_index("ix_decision_log_recorded_at", "decision_log", ["recorded_at"])


def downgrade() -> None:
    op.drop_table("decision_log")
