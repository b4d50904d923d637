"""Every bundle revision that decided anything is kept, content-addressed, so a decision can be replayed.

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-02
"""

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "policy_blobs",
        sa.Column("sha256", sa.String(length=64), primary_key=True),
        sa.Column("content", sa.LargeBinary(), nullable=False),
    )
    op.create_table(
        "policy_revisions",
        sa.Column("revision", sa.String(length=200), primary_key=True),
        sa.Column("manifest_revision", sa.String(length=200), nullable=False),
        sa.Column("first_active_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("last_active_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "policy_revision_files",
        sa.Column("revision", sa.String(length=200), sa.ForeignKey("policy_revisions.revision"), primary_key=True),
        sa.Column("kind", sa.String(length=16), primary_key=True),
        sa.Column("name", sa.String(length=1000), primary_key=True),
        sa.Column("module_path", sa.Text(), nullable=False),
        sa.Column("origin", sa.Text(), nullable=False),
        sa.Column("sha256", sa.String(length=64), sa.ForeignKey("policy_blobs.sha256"), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("policy_revision_files")
    op.drop_table("policy_revisions")
    op.drop_table("policy_blobs")
