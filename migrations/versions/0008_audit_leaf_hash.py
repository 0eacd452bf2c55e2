"""audit events carry their leaf hash; the sequencer records the seq gaps it passes

Revision ID: 0008
Revises: 0007

The writer now hashes each event's Merkle leaf once, when it inserts the event
(audit_events.leaf_hash), so the sequencer integrates stored hashes instead of reading and
canonicalising every event again. Such a leaf covers the event's fields but not its seq,
which the database assigns only on insert; events without a stored hash (all those
written before this migration) keep leaves that cover their seq, exactly as they were
signed (hub/auditlog/tree.py, LEAF_FIELDS). `hub audit verify` never trusts the column:
it recomputes every leaf from the fields.

audit_seq_gaps lists event seqs the sequencer passed without seeing an event (a
transaction still in flight, or rolled back), so each batch reads only the events above
the newest integrated seq plus late ones in those gaps, instead of anti-joining the whole
log. This migration records the gaps already behind the existing leaves. The table only
ever receives INSERTs, so it gets the same triggers as the other audit tables.
"""

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

Big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade():
    op.add_column("audit_events", sa.Column("leaf_hash", sa.LargeBinary(32), nullable=True))
    op.create_table(
        "audit_seq_gaps",
        sa.Column("lo", Big, nullable=False, autoincrement=False),
        sa.Column("hi", Big, nullable=False),
        sa.PrimaryKeyConstraint("lo", name="pk_audit_seq_gaps"),
    )
    # Every seq below the newest integrated one that has no leaf: before the first leaf's
    # seq, and between consecutive leaf seqs.
    op.execute(
        "INSERT INTO audit_seq_gaps (lo, hi) "
        "SELECT 1, first_seq - 1 FROM (SELECT MIN(seq) AS first_seq FROM audit_leaves) AS f "
        "WHERE first_seq > 1")
    op.execute(
        "INSERT INTO audit_seq_gaps (lo, hi) "
        "SELECT seq + 1, next_seq - 1 FROM ("
        "  SELECT seq, LEAD(seq) OVER (ORDER BY seq) AS next_seq FROM audit_leaves) AS pairs "
        "WHERE next_seq > seq + 1")
    _append_only(op.get_bind().dialect.name)


def _append_only(dialect: str) -> None:
    """Same refusal as 0002 and 0003 (hub_refuse_change() is 0002's PostgreSQL function)."""
    table = "audit_seq_gaps"
    if dialect == "postgresql":
        op.execute(f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                   "FOR EACH ROW EXECUTE FUNCTION hub_refuse_change()")
        op.execute(f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                   "FOR EACH STATEMENT EXECUTE FUNCTION hub_refuse_change()")
        return
    for verb in ("UPDATE", "DELETE"):  # SQLite has no TRUNCATE; DELETE covers it
        op.execute(f"CREATE TRIGGER {table}_no_{verb.lower()} BEFORE {verb} ON {table} "
                   f"BEGIN SELECT RAISE(ABORT, '{table} is append-only: {verb} refused'); END")


def downgrade():
    hashed = op.get_bind().scalar(sa.text(
        "SELECT COUNT(*) FROM audit_events WHERE leaf_hash IS NOT NULL"))
    if hashed:  # without the column, verify could no longer tell how their leaves were made
        raise RuntimeError(f"{hashed} audit events have leaves without their seq; "
                           "downgrading past 0008 would make the log fail verification")
    op.drop_table("audit_seq_gaps")  # drops its triggers with it
    op.execute("ALTER TABLE audit_events DROP COLUMN leaf_hash")
