"""audit Merkle tree: leaves, perfect-subtree nodes and signed checkpoints, append-only

Revision ID: 0003
Revises: 0002

The sequencer (hub/auditlog/sequencer.py) integrates committed audit events into an
RFC 6962 tree. It only ever inserts: a leaf, a node and a checkpoint are each written
once and never change, so these tables get the same triggers as audit_events, and on
PostgreSQL hub_app has only SELECT and INSERT on them (deploy/postgres/grants.sql).
"""

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

Big = sa.BigInteger().with_variant(sa.Integer(), "sqlite")
APPEND_ONLY = ("audit_leaves", "audit_nodes", "audit_checkpoints")


def upgrade():
    op.create_table(
        "audit_leaves",
        sa.Column("leaf_index", Big, primary_key=True, autoincrement=False),
        sa.Column("seq", Big, nullable=False),
        sa.Column("leaf_hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("leaf_index", name="pk_audit_leaves"),
        sa.UniqueConstraint("seq", name="uq_audit_leaves_seq"),
    )
    op.create_table(
        "audit_nodes",
        sa.Column("level", sa.SmallInteger(), nullable=False),
        sa.Column("node_index", Big, nullable=False, autoincrement=False),
        sa.Column("hash", sa.LargeBinary(32), nullable=False),
        sa.PrimaryKeyConstraint("level", "node_index", name="pk_audit_nodes"),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("tree_size", Big, nullable=False, autoincrement=False),
        sa.Column("root_hash", sa.LargeBinary(32), nullable=False),
        sa.Column("note", sa.Text(), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("tree_size", name="pk_audit_checkpoints"),
    )
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
    for table in reversed(APPEND_ONLY):
        op.drop_table(table)  # drops its triggers with it
