"""The DPO's alert queue: raised by break-glass at once and by the anomaly scan, closed by a
DPO with an outcome and a note. Titles carry ids and counts, never names or case content."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from sqlalchemy import func, select

from hub.auditlog import writer as audit
from hub.auditlog.models import AuditEvent
from hub.cases.models import BreakGlassGrant
from hub.dpo import lookups, queries
from hub.dpo.models import Alert, AlertEvent
from hub.errors import Conflict
from hub.extensions import db
from hub.timeutil import utcnow
from hub.web.formatting import agency_label, uk_date

PER_PAGE = 50
READS_SHOWN = 500


@dataclass
class Finding:
    """What a rule found: the alert to raise unless one with the same key exists."""

    rule: str
    key: str
    severity: str
    title: str
    seqs: list[int] = field(default_factory=list)
    user_id: int | None = None
    case_id: int | None = None


def raise_alert(finding: Finding) -> Alert | None:
    """Add the alert to the current transaction; None when it was raised before."""
    if db.session.scalar(select(Alert.id).where(Alert.key == finding.key)) is not None:
        return None
    alert = Alert(rule=finding.rule, key=finding.key[:200], severity=finding.severity,
                  title=finding.title[:200], user_id=finding.user_id,
                  case_id=finding.case_id, opened_at=utcnow(), status="open")
    db.session.add(alert)
    db.session.flush()
    db.session.add_all(AlertEvent(alert_id=alert.id, seq=s) for s in sorted(set(finding.seqs)))
    return alert


def on_break_glass(grant, event) -> Alert | None:
    """Called by the break-glass operation inside its transaction (DOMAIN rule 4)."""
    db.session.flush()  # the event's seq
    return raise_alert(Finding(
        rule="break-glass", key=f"break-glass:grant:{grant.id}", severity="high",
        title=f"Break-glass access to case {grant.case_id} by user {grant.user_id}",
        seqs=[event.seq], user_id=grant.user_id, case_id=grant.case_id))


def close(alert: Alert, user, outcome: str, note: str) -> Alert:
    """A DPO's review: the outcome and note are kept, and the closing is audited."""
    if alert.status == "closed":
        raise Conflict("this alert is already closed", "outcome")
    alert.status, alert.outcome, alert.note = "closed", outcome, note.strip()
    alert.closed_at, alert.closed_by_id = utcnow(), user.id
    audit.record("alert:close", case_id=alert.case_id, purpose="dpo-review",
                 details={"alert_id": alert.id, "rule": alert.rule, "outcome": outcome},
                 user=user)
    audit.commit()
    return alert


def listing(status: str, page: int) -> tuple[list[Alert], int]:
    query = select(Alert)
    if status != "all":
        query = query.where(Alert.status == status)
    total = db.session.scalar(query.with_only_columns(func.count(), maintain_column_froms=True))
    rows = db.session.scalars(query.order_by(Alert.id.desc()).limit(PER_PAGE)
                              .offset((page - 1) * PER_PAGE)).all()
    return list(rows), total or 0


def alert_out(alert: Alert) -> dict:
    return {"id": alert.id, "rule": alert.rule, "severity": alert.severity,
            "title": alert.title, "status": alert.status, "user_id": alert.user_id,
            "case_id": alert.case_id, "opened_at": alert.opened_at.isoformat(),
            "closed_at": alert.closed_at.isoformat() if alert.closed_at else None,
            "outcome": alert.outcome, "note": alert.note,
            "event_seqs": [e.seq for e in alert.events]}


def events_of(alert: Alert) -> list[dict]:
    """The alert's events as the audit search shows them (metadata, no case content)."""
    seqs = [e.seq for e in alert.events][:200]
    rows = list(db.session.scalars(select(AuditEvent).where(AuditEvent.seq.in_(seqs))
                                   .order_by(AuditEvent.seq)))
    reasons = queries.grant_reasons(rows)
    return [queries.event_out(e, reasons) for e in rows]


def headlines(rows: list[Alert]) -> dict[int, str]:
    """Each alert's title as a DPO reads it: the stored title keeps ids and counts only,
    so the names and references are put in here, on the way to the page."""
    users = lookups.users_by_id(a.user_id for a in rows)
    cases = lookups.references(a.case_id for a in rows)
    return {a.id: _headline(a, users.get(a.user_id), cases.get(a.case_id)) for a in rows}


def _headline(alert: Alert, user: tuple[str, str] | None, reference: str | None) -> str:
    text = re.sub(r"\b(\d{4}-\d{2}-\d{2})\b", lambda m: uk_date(m.group(1)), alert.title)
    if reference is not None:
        text = re.sub(rf"\bcase {alert.case_id}\b", lambda _m: f"case {reference}", text)
    if user is not None:
        name, agency = user
        text = re.sub(rf"\b[Uu]ser {alert.user_id}\b",
                      lambda _m: f"{name} ({agency_label(agency)})", text)
    return text


def grant_of(alert: Alert):
    """The break-glass grant a break-glass alert is about (None for any other alert)."""
    if alert.rule != "break-glass":
        return None
    grant_id = db.session.scalar(select(AuditEvent.grant_id).where(
        AuditEvent.seq.in_([e.seq for e in alert.events]), AuditEvent.grant_id.is_not(None)))
    return db.session.get(BreakGlassGrant, grant_id) if grant_id is not None else None


def reads_under(grant) -> list[AuditEvent]:
    """What the grant's holder read under it: every read names its grant (hub.disclosure),
    found through the (case, at) index."""
    return list(db.session.scalars(select(AuditEvent).where(
        AuditEvent.case_id == grant.case_id, AuditEvent.grant_id == grant.id,
        AuditEvent.outcome == "allowed", AuditEvent.action != "case:break-glass")
        .order_by(AuditEvent.seq).limit(READS_SHOWN)))


def counts_by_month() -> list[tuple[str, int, int]]:
    """(YYYY-MM, opened, closed) for the dashboard."""
    opened: dict[str, int] = {}
    closed: dict[str, int] = {}
    for opened_at, closed_at in db.session.execute(select(Alert.opened_at, Alert.closed_at)):
        key = opened_at.strftime("%Y-%m")
        opened[key] = opened.get(key, 0) + 1
        if closed_at is not None:
            ckey = closed_at.strftime("%Y-%m")
            closed[ckey] = closed.get(ckey, 0) + 1
    months = sorted(set(opened) | set(closed))
    return [(m, opened.get(m, 0), closed.get(m, 0)) for m in months]
