"""OpenID Connect: identity providers, sign-ins in flight, and users keyed by (issuer, subject)

Revision ID: 0006
Revises: 0005 (the brief says 0002; chained after 0005 so that `upgrade head` keeps a
single head while other branches land. The lead linearises.)

A user signed in through a provider is found by the exact pair (issuer, subject), never by
subject alone, so one provider cannot sign in as another provider's user.
"""

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

When = sa.DateTime(timezone=True)


def upgrade():
    with op.batch_alter_table("users") as batch:
        batch.add_column(sa.Column("oidc_issuer", sa.String(255), nullable=True))
        batch.add_column(sa.Column("oidc_subject", sa.String(255), nullable=True))
        batch.create_unique_constraint("uq_users_oidc_identity", ["oidc_issuer", "oidc_subject"])
    op.create_table(
        "identity_providers",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("slug", sa.String(32), nullable=False),
        sa.Column("name", sa.String(120), nullable=False),
        sa.Column("issuer", sa.String(255), nullable=False),
        sa.Column("client_id", sa.String(255), nullable=False),
        sa.Column("client_secret_ct", sa.Text(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("area_id", sa.Integer(), nullable=True),
        sa.Column("role_claim", sa.String(64), nullable=False),
        sa.Column("role_map", sa.JSON(), nullable=False),
        sa.Column("acr_values", sa.JSON(), nullable=False),
        sa.Column("required_amr", sa.JSON(), nullable=False),
        sa.Column("active", sa.Boolean(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("updated_at", When, nullable=False),
        sa.ForeignKeyConstraint(["agency_id"], ["agencies.id"],
                                name="fk_identity_providers_agency_id_agencies"),
        sa.ForeignKeyConstraint(["area_id"], ["areas.id"],
                                name="fk_identity_providers_area_id_areas"),
        sa.PrimaryKeyConstraint("id", name="pk_identity_providers"),
        sa.UniqueConstraint("slug", name="uq_identity_providers_slug"),
        sa.UniqueConstraint("issuer", name="uq_identity_providers_issuer"),
    )
    op.create_table(
        "oidc_logins",
        sa.Column("id", sa.Integer(), primary_key=True),
        sa.Column("state_hash", sa.String(64), nullable=False),
        sa.Column("nonce_hash", sa.String(64), nullable=False),
        sa.Column("provider_id", sa.Integer(), nullable=False),
        sa.Column("created_at", When, nullable=False),
        sa.Column("used_at", When, nullable=True),
        sa.ForeignKeyConstraint(["provider_id"], ["identity_providers.id"],
                                name="fk_oidc_logins_provider_id_identity_providers"),
        sa.PrimaryKeyConstraint("id", name="pk_oidc_logins"),
        sa.UniqueConstraint("state_hash", name="uq_oidc_logins_state_hash"),
    )
    op.create_index("ix_oidc_logins_provider_id", "oidc_logins", ["provider_id"])


def downgrade():
    op.drop_index("ix_oidc_logins_provider_id", "oidc_logins")
    op.drop_table("oidc_logins")
    op.drop_table("identity_providers")
    with op.batch_alter_table("users") as batch:
        batch.drop_constraint("uq_users_oidc_identity", type_="unique")
        batch.drop_column("oidc_subject")
        batch.drop_column("oidc_issuer")
