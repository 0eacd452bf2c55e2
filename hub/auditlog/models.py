"""The audit event table. Append-only: the database refuses UPDATE, DELETE and TRUNCATE."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, BigInteger, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from hub.extensions import db
from hub.timeutil import UTCDateTime

# BIGINT on PostgreSQL; SQLite only auto-increments a column declared INTEGER.
SeqType = BigInteger().with_variant(Integer(), "sqlite")

OUTCOMES = ("allowed", "denied", "failed")


class AuditEvent(db.Model):
    """One access or change: who, as what, did what, to which case and people, and why.

    Holds no free-text personal data: people and cases are referenced by id, and the
    break-glass reason is referenced through its grant.
    """

    __tablename__ = "audit_events"
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(UTCDateTime)
    request_id: Mapped[str | None] = mapped_column(String(64))
    user_id: Mapped[int | None]  #: no foreign key: the log outlives any row it mentions
    username: Mapped[str | None] = mapped_column(String(64))
    agency: Mapped[str | None] = mapped_column(String(32))
    role: Mapped[str | None] = mapped_column(String(32))
    action: Mapped[str] = mapped_column(String(64))  #: a tag such as ``case:read``
    outcome: Mapped[str] = mapped_column(String(16))
    case_id: Mapped[int | None]
    subject_ids: Mapped[list[int]] = mapped_column(JSON, default=list)  #: people disclosed
    classes: Mapped[list[str]] = mapped_column(JSON, default=list)  #: classes disclosed
    purpose: Mapped[str | None] = mapped_column(String(64))  #: e.g. member, break-glass
    grant_id: Mapped[int | None]  #: the break-glass grant holding the stated reason
    rule: Mapped[str | None] = mapped_column(String(200))  #: policy rule that decided
    policy_digest: Mapped[str | None] = mapped_column(String(64))
    client_addr: Mapped[str | None] = mapped_column(String(64))
    user_agent: Mapped[str | None] = mapped_column(String(200))
    details: Mapped[dict] = mapped_column(JSON, default=dict)  #: ids and counts, never text
    #: the event's Merkle leaf hash, computed by the writer (hub/auditlog/tree.py,
    #: LEAF_FIELDS); the sequencer integrates it, `hub audit verify` recomputes it
    leaf_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))

    __table_args__ = (
        Index("ix_audit_events_case_at", "case_id", "at"),
        Index("ix_audit_events_username_at", "username", "at"),
        Index("ix_audit_events_action_at", "action", "at"),
        Index("ix_audit_events_at", "at"),
    )


class AuditSubject(db.Model):
    """Index of events by the people they disclosed, for subject access requests."""

    __tablename__ = "audit_subjects"
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True)
    person_id: Mapped[int] = mapped_column(primary_key=True, index=True)
