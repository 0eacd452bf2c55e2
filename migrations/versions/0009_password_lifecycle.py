"""Credential lifecycle: temporary passwords that must be changed at the next sign-in

Revision ID: 0009
Revises: 0008

An administrator who creates a local user, or resets one's sign-in, issues a one-time
temporary password. ``must_change_password`` sends that user to "choose a new password"
before any other page; ``temporary_password_expires_at`` makes the temporary password
short-lived.
"""

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("must_change_password", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("temporary_password_expires_at",
                                   sa.DateTime(timezone=True), nullable=True))


def downgrade():
    with op.batch_alter_table("users") as batch:
        batch.drop_column("temporary_password_expires_at")
        batch.drop_column("must_change_password")
