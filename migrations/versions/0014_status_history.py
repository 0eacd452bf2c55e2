"""A case's status history, with the reason it was closed

Revision ID: 0014
Revises: 0013

Each time a case's status is set (referred, accepted on screening, closed...) a row says
when, by which user and agency, and, when it closes, why. Cases before this have no rows;
the case page shows their date of referral as the start of their history.
"""

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

STATUSES = ("referred", "screening", "accepted", "active", "closed")


def upgrade():
    op.create_table(
        "status_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("reason", sa.String(1000), nullable=True),
        sa.Column("user_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"],
                                name=op.f("fk_status_changes_case_id_cases")),
        sa.ForeignKeyConstraint(["user_id"], ["users.id"],
                                name=op.f("fk_status_changes_user_id_users")),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"],
                                name=op.f("fk_status_changes_agency_id_agencies")),
        sa.CheckConstraint(f"status IN {STATUSES}", name=op.f("ck_status_changes_status")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_status_changes")))
    op.create_index("ix_status_changes_case_id", "status_changes", ["case_id"])


def downgrade():
    op.drop_index("ix_status_changes_case_id", "status_changes")
    op.drop_table("status_changes")
