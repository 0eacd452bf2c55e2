"""Already known? People's identifiers as keyed hashes, and requests to join a case

Revision ID: 0013
Revises: 0012

Screening asks whether the perpetrator or victim is already known in another case of the
area. Each person's identifiers (PNC ID, NHS number, name with date of birth, online
identifiers, phone, email), normalised, are kept as HMAC-SHA256 digests under a key
derived from the master key, so the comparison needs no decryption. A coordinator who
finds a match may ask to join that case; its team decides.
"""

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def _fk(table: str, column: str, target: str):
    return sa.ForeignKeyConstraint([column], [f"{target}.id"],
                                   name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade():
    op.create_table(
        "person_keys",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("party", sa.String(16), nullable=False),
        sa.Column("kind", sa.String(16), nullable=False),
        sa.Column("digest", sa.LargeBinary(32), nullable=False),
        _fk("person_keys", "person_id", "people"),
        _fk("person_keys", "case_id", "cases"),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_keys")))
    op.create_index("ix_person_keys_person_id", "person_keys", ["person_id"])
    op.create_index("ix_person_keys_case_id", "person_keys", ["case_id"])
    op.create_index("ix_person_keys_digest", "person_keys", ["digest"])
    op.create_table(
        "join_requests",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("from_case_id", sa.Integer(), nullable=False),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("requested_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        _fk("join_requests", "case_id", "cases"),
        _fk("join_requests", "from_case_id", "cases"),
        _fk("join_requests", "user_id", "users"),
        _fk("join_requests", "decided_by_id", "users"),
        sa.CheckConstraint("decision IN ('approve', 'refuse')",
                           name=op.f("ck_join_requests_decision")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_join_requests")))
    op.create_index("ix_join_requests_case_id", "join_requests", ["case_id"])


def downgrade():
    op.drop_index("ix_join_requests_case_id", "join_requests")
    op.drop_table("join_requests")
    op.drop_index("ix_person_keys_digest", "person_keys")
    op.drop_index("ix_person_keys_case_id", "person_keys")
    op.drop_index("ix_person_keys_person_id", "person_keys")
    op.drop_table("person_keys")
