"""Policy reloads reach every server process: the reload's generation is recorded in one row that each
process polls.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    reloads = op.create_table(
        "policy_reloads",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("generation", sa.Integer(), nullable=False),
        sa.Column("bundle_revision", sa.String(length=200), nullable=True),
        sa.Column("reloaded_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.bulk_insert(reloads, [{"id": 1, "generation": 0}])


def downgrade() -> None:
    op.drop_table("policy_reloads")
