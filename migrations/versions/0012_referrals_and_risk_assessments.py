"""Referrals and risk assessments as structured records

Revision ID: 0012
Revises: 0011

The front half of the casework (DOMAIN.md, "Casework" 1 to 3). A referral records how a
case reached the STAC and what screening decided; a risk assessment records a tool's
score, the level it suggests and the level the assessor set, with the assessor's words in
entries of their own classes. A person gains online identifiers (all that may be known of
an anonymous online stalker) and, encrypted like her address, safe ways to contact a
victim.
"""

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision = "0011"
branch_labels = None
depends_on = None

SOURCES = ("helpline", "police", "advocacy", "nhs", "probation", "self", "other")
RELATIONSHIPS = ("ex_intimate_partner", "acquaintance", "stranger", "online_only", "family",
                 "colleague", "neighbour", "other")
DECISIONS = ("accept", "decline", "signpost")
LEVELS = ("standard", "medium", "high")


def _fk(table: str, column: str, target: str):
    return sa.ForeignKeyConstraint([column], [f"{target}.id"],
                                   name=op.f(f"fk_{table}_{column}_{target}"))


def upgrade():
    with op.batch_alter_table("people") as batch:
        batch.add_column(sa.Column("online_identifiers", sa.JSON(), nullable=True))
        batch.add_column(sa.Column("safe_contact_ct", sa.String(2000), nullable=True))
    op.create_table(
        "referrals",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("source", sa.String(16), nullable=False),
        sa.Column("referrer_name", sa.String(200), nullable=True),
        sa.Column("entered_by_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("referred_on", sa.Date(), nullable=False),
        sa.Column("crime_reference", sa.String(40), nullable=True),
        sa.Column("consent_to_referral", sa.Boolean(), nullable=False),
        sa.Column("consent_to_contact", sa.Boolean(), nullable=False),
        sa.Column("relationship", sa.String(32), nullable=False),
        sa.Column("behaviours", sa.JSON(), nullable=False),
        sa.Column("behaviours_other", sa.String(200), nullable=True),
        sa.Column("perpetrator_named", sa.Boolean(), nullable=False),
        sa.Column("decision", sa.String(16), nullable=True),
        sa.Column("decision_reason", sa.String(1000), nullable=True),
        sa.Column("decided_by_id", sa.Integer(), nullable=True),
        sa.Column("decided_at", sa.DateTime(timezone=True), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        _fk("referrals", "case_id", "cases"),
        _fk("referrals", "entered_by_id", "users"),
        _fk("referrals", "agency_id", "agencies"),
        _fk("referrals", "decided_by_id", "users"),
        sa.CheckConstraint(f"source IN {SOURCES}", name=op.f("ck_referrals_source")),
        sa.CheckConstraint(f"relationship IN {RELATIONSHIPS}",
                           name=op.f("ck_referrals_relationship")),
        sa.CheckConstraint(f"decision IN {DECISIONS}", name=op.f("ck_referrals_decision")),
        sa.UniqueConstraint("case_id", name=op.f("uq_referrals_case_id")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_referrals")))
    op.create_table(
        "risk_assessments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("case_id", sa.Integer(), nullable=False),
        sa.Column("tool", sa.String(32), nullable=False),
        sa.Column("score", sa.Integer(), nullable=True),
        sa.Column("suggested_level", sa.String(16), nullable=False),
        sa.Column("level", sa.String(16), nullable=False),
        sa.Column("review_on", sa.Date(), nullable=True),
        sa.Column("assessor_id", sa.Integer(), nullable=False),
        sa.Column("agency_id", sa.Integer(), nullable=False),
        sa.Column("assessed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("core_entry_id", sa.Integer(), nullable=False),
        sa.Column("answers_entry_id", sa.Integer(), nullable=False),
        sa.Column("summary_entry_id", sa.Integer(), nullable=True),
        _fk("risk_assessments", "case_id", "cases"),
        _fk("risk_assessments", "assessor_id", "users"),
        _fk("risk_assessments", "agency_id", "agencies"),
        _fk("risk_assessments", "core_entry_id", "entries"),
        _fk("risk_assessments", "answers_entry_id", "entries"),
        _fk("risk_assessments", "summary_entry_id", "entries"),
        sa.CheckConstraint(f"suggested_level IN {LEVELS}",
                           name=op.f("ck_risk_assessments_suggested_level")),
        sa.CheckConstraint(f"level IN {LEVELS}", name=op.f("ck_risk_assessments_level")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_risk_assessments")))
    op.create_index("ix_risk_assessments_case_id", "risk_assessments", ["case_id"])


def downgrade():
    op.drop_index("ix_risk_assessments_case_id", "risk_assessments")
    op.drop_table("risk_assessments")
    op.drop_table("referrals")
    with op.batch_alter_table("people") as batch:
        batch.drop_column("safe_contact_ct")
        batch.drop_column("online_identifiers")
