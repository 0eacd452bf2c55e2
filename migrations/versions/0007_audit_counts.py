"""exact audit search totals from sealed, insert-only count batches

Revision ID: 0007
Revises: 0006

An exact count(*) of millions of matching events takes hundreds of milliseconds. The log is
append-only, so a range of events, once no transaction can still add an event to it, never
changes: its counts can be stored once. A batch ``(from_seq, upto_seq]`` in
audit_count_batches says that audit_counts holds, for that range, the number of events of
each (agency, role, action, outcome, purpose) combination. The search adds the stored
counts to an exact count(*) of the few events after the last batch
(hub/auditlog/queries.py, ``count`` and ``refresh_counts``).

Batches form one chain from seq 0: each starts where the previous one ended (the code
reads the head and inserts in one transaction), and a primary key on from_seq makes two
writers that read the same head collide instead of counting a range twice. Both tables
only ever receive INSERTs, so they get the same triggers as audit_events; on PostgreSQL
hub_app should hold only SELECT and INSERT on them (deploy/postgres/grants.sql).
"""

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

Big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY = ("audit_count_batches", "audit_counts")


def upgrade():
    op.create_table(
        "audit_count_batches",
        sa.Column("from_seq", Big, nullable=False, autoincrement=False),
        sa.Column("upto_seq", Big, nullable=False),
        sa.Column("counted_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("from_seq", name="pk_audit_count_batches"),
        sa.UniqueConstraint("upto_seq", name="uq_audit_count_batches_upto_seq"),
        sa.CheckConstraint("upto_seq > from_seq", name="ck_audit_count_batches_range"),
    )
    op.create_table(
        "audit_counts",
        sa.Column("upto_seq", Big, sa.ForeignKey(
            "audit_count_batches.upto_seq", name="fk_audit_counts_upto_seq_audit_count_batches"),
            nullable=False),
        sa.Column("agency", sa.String(32)),
        sa.Column("role", sa.String(32)),
        sa.Column("action", sa.String(64)),
        sa.Column("outcome", sa.String(16)),
        sa.Column("purpose", sa.String(64)),
        sa.Column("n", Big, nullable=False),
        sa.CheckConstraint("n > 0", name="ck_audit_counts_positive"),
    )
    op.create_index("ix_audit_counts_upto_seq", "audit_counts", ["upto_seq"])
    _append_only(op.get_bind().dialect.name)


def _append_only(dialect: str) -> None:
    """Same refusal as 0002 (whose hub_refuse_change() PostgreSQL function is reused)."""
    for table in APPEND_ONLY:
        if dialect == "postgresql":
            op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                       "FOR EACH ROW EXECUTE FUNCTION hub_refuse_change()")
            op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                       "FOR EACH STATEMENT EXECUTE FUNCTION hub_refuse_change()")
            continue
        for verb in ("UPDATE", "DELETE"):  # SQLite has no TRUNCATE; DELETE covers it
            op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                       f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END")


def downgrade():
    op.drop_table("audit_counts")  # its triggers and index go with it
    op.drop_table("audit_count_batches")
