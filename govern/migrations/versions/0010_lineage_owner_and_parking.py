"""Lineage: an outbox event that keeps failing is parked with its error; the run ids govern issued are
indexed, since every posted event is checked against them (only govern writes its own runs).

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("lineage_outbox") as batch:
        batch.add_column(sa.Column("parked_at", sa.DateTime(timezone=True), nullable=True))
    op.create_index("ix_submissions_run_id", "submissions", ["run_id"])
    op.create_index("ix_jobs_run_id", "jobs", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_jobs_run_id", table_name="jobs")
    op.drop_index("ix_submissions_run_id", table_name="submissions")
    with op.batch_alter_table("lineage_outbox") as batch:
        batch.drop_column("parked_at")
