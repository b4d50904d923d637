"""The ledger indexed by submission: every job's end reads what is still reserved for its submission, which
without an index scanned the whole ledger.

Revision ID: 0018
Revises: 0017
Create Date: 2026-12-03
"""

from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_index("ix_ledger_submission_id", "ledger", ["submission_id"])


def downgrade() -> None:
    op.drop_index("ix_ledger_submission_id", "ledger")
