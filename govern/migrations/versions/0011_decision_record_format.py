"""Decision records carry their format: rows written before are format 1 (hash over their content), new rows
format 2 (hash over every column).

Revision ID: 0011
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("decision_log") as batch:
        batch.add_column(sa.Column("format", sa.Integer(), nullable=False, server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("decision_log") as batch:
        batch.drop_column("format")
