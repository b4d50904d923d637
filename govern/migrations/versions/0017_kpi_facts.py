"""Facts the KPIs count without reading record content: each rule a decision fired, as a row beside the log
(with the decision's team and time, so "the rules that deny most" is one index range), and when a sandbox was
approved (its `decided_at` moves on when it is revoked). Existing records are indexed here; an approval
before this migration is known only while the sandbox is still approved.

Revision ID: 0017
Revises: 0016
Create Date: 2026-12-03
"""

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "decision_rules",
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("effect", sa.String(length=8), primary_key=True),
        sa.Column("rule", sa.String(length=200), primary_key=True),
        sa.Column("team", sa.String(length=63), nullable=False),
        sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_decision_rules_effect_time", "decision_rules", ["effect", "recorded_at"])
    op.create_index("ix_decision_rules_rule", "decision_rules", ["rule", "seq"])
    with op.batch_alter_table("sandboxes") as batch:
        batch.add_column(sa.Column("approved_at", sa.DateTime(timezone=True), nullable=True))
    op.execute("UPDATE sandboxes SET approved_at = decided_at WHERE status = 'approved'")
    _index_existing_records()


def _index_existing_records() -> None:
    """Every recorded rule, in one statement of the database's own JSON functions (so `govern db upgrade
    --sql` prints it too)."""
    if op.get_context().dialect.name == "postgresql":
        op.execute(
            "INSERT INTO decision_rules (seq, effect, rule, team, recorded_at) "
            "SELECT DISTINCT d.seq, e.effect, left(f.value ->> 'rule', 200), d.team, d.recorded_at FROM decision_log d "
            "CROSS JOIN (VALUES ('deny'), ('warn'), ('waived')) AS e(effect) "
            "CROSS JOIN LATERAL jsonb_array_elements(COALESCE(d.record::jsonb -> 'decision' -> e.effect, '[]'::jsonb)) AS f(value) "
            "WHERE f.value ->> 'rule' IS NOT NULL"
        )
    else:
        op.execute(
            "INSERT INTO decision_rules (seq, effect, rule, team, recorded_at) "
            "SELECT DISTINCT d.seq, e.effect, substr(json_extract(f.value, '$.rule'), 1, 200), d.team, d.recorded_at "
            "FROM decision_log d, (SELECT 'deny' AS effect UNION ALL SELECT 'warn' UNION ALL SELECT 'waived') e, "
            "json_each(d.record, '$.decision.' || e.effect) f WHERE json_extract(f.value, '$.rule') IS NOT NULL"
        )


def downgrade() -> None:
    with op.batch_alter_table("sandboxes") as batch:
        batch.drop_column("approved_at")
    op.drop_index("ix_decision_rules_rule", table_name="decision_rules")
    op.drop_index("ix_decision_rules_effect_time", table_name="decision_rules")
    op.drop_table("decision_rules")
