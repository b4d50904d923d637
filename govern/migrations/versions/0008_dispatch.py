"""Dispatch: jobs carry what a worker needs (circuit, target, seeds, fallback, lease, vendor job id), several
jobs per submission (fallbacks, reproductions), and results.

Jobs queued before this revision stored no circuit, so they cannot be dispatched: they end as failed,
with a note to submit again.

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-24
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "jobs_v2",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("submission_id", sa.String(length=36), sa.ForeignKey("submissions.id"), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False, server_default="primary"),
        sa.Column("parent_job_id", sa.String(length=36), nullable=True),
        sa.Column("run_id", sa.String(length=36), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("vendor", sa.String(length=63), nullable=False),
        sa.Column("device", sa.String(length=63), nullable=False),
        sa.Column("shots", sa.Integer(), nullable=False),
        sa.Column("qasm", sa.Text(), nullable=False),
        sa.Column("fallback", sa.JSON(), nullable=True),
        sa.Column("credentials", sa.JSON(), nullable=False),
        sa.Column("seed_transpiler", sa.Integer(), nullable=False),
        sa.Column("seed_simulator", sa.Integer(), nullable=False),
        sa.Column("price_model", sa.JSON(), nullable=False),
        sa.Column("estimated_cost", sa.Numeric(14, 2), nullable=False, server_default="0"),
        sa.Column("currency", sa.String(length=3), nullable=False, server_default="USD"),
        sa.Column("vendor_job_id", sa.String(length=200), nullable=True),
        sa.Column("attempts", sa.Integer(), nullable=False, server_default="0"),
        sa.Column("lease_owner", sa.String(length=100), nullable=True),
        sa.Column("lease_expires_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("cancel_requested", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("reproduced", sa.Boolean(), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("started_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.execute(
        "INSERT INTO jobs_v2 (id, submission_id, kind, run_id, status, vendor, device, shots, qasm, credentials,"
        " seed_transpiler, seed_simulator, price_model, attempts, cancel_requested, error, created_at, updated_at)"
        " SELECT j.id, j.submission_id, 'primary', s.run_id, 'failed', '', '', 0, '', '{}', 0, 0, '{}', 0, false,"
        " 'queued before dispatch existed: submit the experiment again', j.created_at, j.updated_at"
        " FROM jobs j JOIN submissions s ON s.id = j.submission_id"
    )
    op.drop_table("jobs")
    op.rename_table("jobs_v2", "jobs")
    op.create_index("ix_jobs_status", "jobs", ["status"])
    op.create_index("ix_jobs_submission_id", "jobs", ["submission_id"])
    op.create_index("ix_jobs_created_at", "jobs", ["created_at"])
    op.create_table(
        "results",
        sa.Column("job_id", sa.String(length=36), sa.ForeignKey("jobs.id"), primary_key=True),
        sa.Column("submission_id", sa.String(length=36), nullable=False),
        sa.Column("device", sa.String(length=63), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("result_hash", sa.String(length=80), nullable=False),
        sa.Column("transpiled", sa.JSON(), nullable=False),
        sa.Column("calibration_snapshot_id", sa.String(length=200), nullable=True),
        sa.Column("usage_seconds", sa.Float(), nullable=True),
        sa.Column("actual_cost", sa.Numeric(14, 2), nullable=False),
        sa.Column("currency", sa.String(length=3), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_results_submission_id", "results", ["submission_id"])


def downgrade() -> None:
    op.drop_table("results")
    op.drop_index("ix_jobs_created_at", "jobs")
    op.drop_index("ix_jobs_submission_id", "jobs")
    op.drop_index("ix_jobs_status", "jobs")
    op.rename_table("jobs", "jobs_v2")
    op.create_table(
        "jobs",
        sa.Column("id", sa.String(length=36), primary_key=True),
        sa.Column("submission_id", sa.String(length=36), sa.ForeignKey("submissions.id"), nullable=False, unique=True),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.execute(
        "INSERT INTO jobs (id, submission_id, status, created_at, updated_at)"
        " SELECT id, submission_id, status, created_at, updated_at FROM jobs_v2 WHERE kind = 'primary'"
    )
    op.drop_table("jobs_v2")
    op.create_index("ix_jobs_status", "jobs", ["status"])
