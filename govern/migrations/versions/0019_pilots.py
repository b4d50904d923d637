"""Pilots: a sandbox's pilot terms, and its failure record (primary jobs ended, failed, cancelled and fallen
back, and the spend on failed and cancelled runs), counted as jobs end. Jobs that ended before this
migration are counted here, from their rows and the ledger.

Revision ID: 0019
Revises: 0018
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None

COUNTERS = ("jobs_ended", "jobs_failed", "jobs_cancelled", "jobs_fallen_back")
SPEND = ("failed_spend", "cancelled_spend")


def upgrade() -> None:
    with op.batch_alter_table("sandboxes") as batch:
        batch.add_column(sa.Column("pilot_terms", sa.JSON(), nullable=True))
        for name in COUNTERS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
        for name in SPEND:
            batch.add_column(sa.Column(name, sa.Numeric(14, 2), nullable=False, server_default="0"))
    _count_existing_jobs()


def _count_existing_jobs() -> None:
    """The record of jobs that ended before the counters existed, in plain SQL both databases run."""
    primary = "FROM jobs j JOIN submissions s ON s.id = j.submission_id WHERE s.sandbox = sandboxes.id AND j.kind = 'primary'"
    charged = ("FROM ledger l JOIN jobs j ON j.submission_id = l.submission_id "
               "WHERE l.sandbox_id = sandboxes.id AND l.kind = 'charge' AND j.kind = 'primary'")
    op.execute(
        "UPDATE sandboxes SET "
        f"jobs_ended = (SELECT count(*) {primary} AND j.status IN ('succeeded', 'failed', 'cancelled', 'fallback')), "
        f"jobs_failed = (SELECT count(*) {primary} AND j.status = 'failed'), "
        f"jobs_cancelled = (SELECT count(*) {primary} AND j.status = 'cancelled'), "
        f"jobs_fallen_back = (SELECT count(*) {primary} AND j.status = 'fallback'), "
        f"failed_spend = (SELECT coalesce(sum(l.amount), 0) {charged} AND j.status = 'failed'), "
        f"cancelled_spend = (SELECT coalesce(sum(l.amount), 0) {charged} AND j.status = 'cancelled')"
    )


def downgrade() -> None:
    with op.batch_alter_table("sandboxes") as batch:
        for name in (*SPEND, *COUNTERS, "pilot_terms"):
            batch.drop_column(name)
