"""Lineage: stored events are indexed by run, so Marquez's read API reads a run's facets (a dataset's
schema, a job's description) without scanning every event.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-02
"""

from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_lineage_events_run_id", "lineage_events", ["run_id"])


def downgrade() -> None:
    op.drop_index("ix_lineage_events_run_id", table_name="lineage_events")
