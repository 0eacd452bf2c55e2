"""DPO console: alerts, erasures, exemptions, and indexes for the DPO's audit queries

Revision ID: 0005
Revises: 0003

Every audit search pages newest first (ORDER BY seq DESC) after an equality filter, so each
filterable column gets a (column, seq) index: the first page is a short backward index
scan whatever the table's size. Date ranges use the existing (column, at) indexes.
dpo_erasures is append-only like the audit log: an erasure, once recorded, stays recorded.
"""

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0003"
branch_labels = None
depends_on = None

Seq = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
When = sa.DateTime(timezone=True)
EVENT_INDEXES = ("username", "agency", "role", "action", "outcome", "case_id", "purpose",
                 "user_id")
APPEND_ONLY = ("dpo_erasures",)


def upgrade():
    for column in EVENT_INDEXES:
        op.create_index(f"ix_audit_events_{column}_seq", "audit_events", [column, "seq"])
    op.create_index("ix_audit_subjects_person_seq", "audit_subjects", ["person_id", "seq"])
    _alerts()
    op.create_table(
        "dpo_erasures",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("person_id", sa.Integer(), nullable=False, index=True),
        sa.Column("at", When, nullable=False),
        sa.Column("by_user_id", sa.Integer(), nullable=False),
        sa.Column("ground", sa.String(64), nullable=False),
        sa.Column("what", sa.JSON(), nullable=False))
    op.create_table(
        "dpo_exemptions",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("person_id", sa.Integer(), nullable=False, index=True),
        sa.Column("info_class", sa.String(32), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=False),
        sa.Column("applied_by_id", sa.Integer(), nullable=False),
        sa.Column("applied_at", When, nullable=False))
    _append_only()


def _alerts():
    op.create_table(
        "dpo_alerts",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("rule", sa.String(64), nullable=False, index=True),
        sa.Column("key", sa.String(200), nullable=False, unique=True),
        sa.Column("severity", sa.String(16), nullable=False),
        sa.Column("title", sa.String(200), nullable=False),
        sa.Column("user_id", sa.Integer()),
        sa.Column("case_id", sa.Integer()),
        sa.Column("opened_at", When, nullable=False, index=True),
        sa.Column("status", sa.String(16), nullable=False, index=True),
        sa.Column("closed_at", When),
        sa.Column("closed_by_id", sa.Integer(), sa.ForeignKey("users.id")),
        sa.Column("outcome", sa.String(32)),
        sa.Column("note", sa.String(2000)),
        sa.CheckConstraint("status IN ('open', 'closed')", name="ck_dpo_alerts_status"))
    op.create_table(
        "dpo_alert_events",
        sa.Column("alert_id", sa.Integer(), sa.ForeignKey("dpo_alerts.id"), primary_key=True),
        sa.Column("seq", Seq, primary_key=True))


def _append_only():
    postgres = op.get_bind().dialect.name == "postgresql"
    for table in APPEND_ONLY:
        if postgres:  # hub_refuse_change() comes from revision 0002
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION hub_refuse_change()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION hub_refuse_change()")
            continue
        for verb in ("UPDATE", "DELETE"):
            op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END")


def downgrade():
    for table in ("dpo_exemptions", "dpo_erasures", "dpo_alert_events", "dpo_alerts"):
        op.drop_table(table)
    op.drop_index("ix_audit_subjects_person_seq", "audit_subjects")
    for column in EVENT_INDEXES:
        op.drop_index(f"ix_audit_events_{column}_seq", "audit_events")
