"""Agencies have a kind and, optionally, an area

Revision ID: 0011
Revises: 0010

Administrators now create agencies. The policy speaks of kinds of agency (police, nhs...,
the keys of policies/roles.yaml), so each agency records its ``kind``; the agencies that
exist were named after their kind, so each takes its own code as its kind. An agency with
an ``area_id`` serves that area only; none (every agency so far) serves every area.

SQLite cannot add a constraint to a table without copying it, and copying ``agencies``
means dropping a table that users and case teams point at, which SQLite refuses while
foreign keys are on. So both columns are added in place there: ``area_id`` with its
reference written into the column, ``kind`` NOT NULL with an empty default that only ever
applied to the rows being given their kind here.
"""

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

FK = "fk_agencies_area_id_areas"


def upgrade():
    if op.get_bind().dialect.name == "sqlite":
        op.execute("ALTER TABLE agencies ADD COLUMN kind VARCHAR(32) NOT NULL DEFAULT ''")
        op.execute(f"ALTER TABLE agencies ADD COLUMN area_id INTEGER CONSTRAINT {FK} "
                   "REFERENCES areas (id)")
    else:
        op.add_column("agencies", sa.Column("kind", sa.String(32), nullable=True))
        op.add_column("agencies", sa.Column("area_id", sa.Integer(), nullable=True))
        op.create_foreign_key(FK, "agencies", "areas", ["area_id"], ["id"])
    agencies = sa.table("agencies", sa.column("code", sa.String), sa.column("kind", sa.String))
    op.execute(agencies.update().values(kind=agencies.c.code))
    if op.get_bind().dialect.name != "sqlite":
        op.alter_column("agencies", "kind", existing_type=sa.String(32), nullable=False)


def downgrade():
    # On SQLite this copies the table, which SQLite refuses once users point at agencies:
    # restore a populated SQLite hub from its backup instead.
    with op.batch_alter_table("agencies") as batch:
        if op.get_bind().dialect.name != "sqlite":
            batch.drop_constraint(FK, type_="foreignkey")
        batch.drop_column("area_id")
        batch.drop_column("kind")
