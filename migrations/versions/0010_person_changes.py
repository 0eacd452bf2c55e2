"""Corrections of people's details keep what they replaced

Revision ID: 0010
Revises: 0009

Each correction of a person's details (a victim's new address, a perpetrator's PNC ID)
adds a row per information class changed: which fields, when, by which user and agency,
and the values replaced, encrypted under the person's own data key so that erasure
destroys them too. Rows are only ever added.
"""

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade():
    op.create_table(
        "person_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("person_id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("info_class", sa.String(32), nullable=False),
        sa.Column("fields", sa.JSON(), nullable=False),
        sa.Column("previous_ct", sa.String(20_000), nullable=True),
        sa.Column("changed_by_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("changed_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(["person_id"], ["people.id"],
                                name=op.f("fk_person_changes_person_id_people")),
        sa.ForeignKeyConstraint(["case_id"], ["cases.id"],
                                name=op.f("fk_person_changes_case_id_cases")),
        sa.ForeignKeyConstraint(["changed_by_id"], ["users.id"],
                                name=op.f("fk_person_changes_changed_by_id_users")),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"],
                                name=op.f("fk_person_changes_agency_id_agencies")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_person_changes")))
    op.create_index("ix_person_changes_person_id", "person_changes", ["person_id"])
    op.create_index("ix_person_changes_case_id", "person_changes", ["case_id"])


def downgrade():
    op.drop_index("ix_person_changes_case_id", "person_changes")
    op.drop_index("ix_person_changes_person_id", "person_changes")
    op.drop_table("person_changes")
