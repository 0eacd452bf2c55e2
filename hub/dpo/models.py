"""Tables of the DPO's console. Alerts are worked (closed); erasures and exemptions are kept."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.auditlog.models import SeqType
from hub.extensions import db
from hub.timeutil import UTCDateTime, utcnow

ALERT_STATUSES = ("open", "closed")
ALERT_OUTCOMES = ("justified", "unjustified", "false-positive", "referred")


class Alert(db.Model):
    """Something in the audit stream a DPO must review. The title holds no personal data."""

    __tablename__ = "dpo_alerts"
    id: Mapped[int] = mapped_column(primary_key=True)
    rule: Mapped[str] = mapped_column(String(64), index=True)  #: rule id, e.g. break-glass
    key: Mapped[str] = mapped_column(String(200), unique=True)  #: makes a rescan idempotent
    severity: Mapped[str] = mapped_column(String(16))
    title: Mapped[str] = mapped_column(String(200))  #: ids and counts only, never names
    user_id: Mapped[int | None]  #: the staff member whose accesses raised it
    case_id: Mapped[int | None]
    opened_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, index=True)
    status: Mapped[str] = mapped_column(String(16), default="open", index=True)
    closed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    outcome: Mapped[str | None] = mapped_column(String(32))
    note: Mapped[str | None] = mapped_column(String(2000))  #: the DPO's review note

    events: Mapped[list[AlertEvent]] = relationship(order_by="AlertEvent.seq")


class AlertEvent(db.Model):
    """The audit events an alert is about."""

    __tablename__ = "dpo_alert_events"
    alert_id: Mapped[int] = mapped_column(ForeignKey("dpo_alerts.id"), primary_key=True)
    seq: Mapped[int] = mapped_column(SeqType, primary_key=True)


class Erasure(db.Model):
    """A person's data destroyed under the retention process. Append-only."""

    __tablename__ = "dpo_erasures"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(index=True)  #: no foreign key: outlives the row
    at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    by_user_id: Mapped[int]
    ground: Mapped[str] = mapped_column(String(64))  #: e.g. retention, art17-request
    what: Mapped[list[str]] = mapped_column(JSON, default=list)  #: classes destroyed


class Exemption(db.Model):
    """A class withheld from a subject access bundle, with the DPO's stated reason."""

    __tablename__ = "dpo_exemptions"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(index=True)
    info_class: Mapped[str] = mapped_column(String(32))
    reason: Mapped[str] = mapped_column(String(1000))
    applied_by_id: Mapped[int]
    applied_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
