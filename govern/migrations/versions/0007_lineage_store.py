"""The lineage store: received OpenLineage run events, the datasets each run read and wrote, and runs.

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-25
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "lineage_events",
        sa.Column("id", sa.Integer(), primary_key=True, autoincrement=True),
        sa.Column("event_hash", sa.String(length=64), nullable=False, unique=True),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("event_type", sa.String(length=16), nullable=True),
        sa.Column("event_time", sa.DateTime(timezone=True), nullable=False),
        sa.Column("job_namespace", sa.String(length=255), nullable=False),
        sa.Column("job_name", sa.String(length=1000), nullable=False),
        sa.Column("producer", sa.Text(), nullable=False),
        sa.Column("team", sa.String(length=63), nullable=True),
        sa.Column("payload", sa.Text(), nullable=False),
        sa.Column("received_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "lineage_io",
        sa.Column("run_id", sa.String(length=36), primary_key=True),
        sa.Column("direction", sa.String(length=6), primary_key=True),
        sa.Column("dataset_namespace", sa.String(length=255), primary_key=True),
        sa.Column("dataset_name", sa.String(length=1000), primary_key=True),
        sa.Column("job_namespace", sa.String(length=255), nullable=False),
        sa.Column("job_name", sa.String(length=1000), nullable=False),
        sqlite_with_rowid=False,
    )
    op.create_index(
        "ix_lineage_io_dataset", "lineage_io",
        ["dataset_namespace", "dataset_name", "direction", "job_namespace", "job_name", "run_id"],
    )
    op.create_index("ix_lineage_io_job", "lineage_io", ["job_namespace", "job_name", "direction", "dataset_namespace", "dataset_name"])
    op.create_table(
        "lineage_runs",
        sa.Column("run_id", sa.String(length=36), primary_key=True),
        sa.Column("job_namespace", sa.String(length=255), nullable=False),
        sa.Column("job_name", sa.String(length=1000), nullable=False),
        sa.Column("team", sa.String(length=63), nullable=True),
        sa.Column("state", sa.String(length=16), nullable=True),
        sa.Column("state_time", sa.DateTime(timezone=True), nullable=True),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("ended_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("parent_run_id", sa.String(length=36), nullable=True),
        sa.Column("decision_id", sa.String(length=64), nullable=True),
        sa.Column("allow", sa.Boolean(), nullable=True),
        sqlite_with_rowid=False,
    )
    op.create_index("ix_lineage_runs_job", "lineage_runs", ["job_namespace", "job_name", "state_time"])


def downgrade() -> None:
    op.drop_table("lineage_runs")
    op.drop_table("lineage_io")
    op.drop_table("lineage_events")
