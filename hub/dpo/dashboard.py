"""Numbers for the DPO's dashboard: a few GROUP BY queries, no per-row loading."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import func, select

from hub.auditlog.models import AuditEvent
from hub.dpo import alerts
from hub.dpo.models import Alert
from hub.extensions import db
from hub.timeutil import utcnow

MONTHS = 12


def _recent():
    return AuditEvent.at >= utcnow() - timedelta(days=31 * MONTHS)


def _month(column):
    """YYYY-MM of a timestamp, in the database's own dialect."""
    if db.session.get_bind().dialect.name == "postgresql":
        return func.to_char(func.timezone("UTC", column), "YYYY-MM")
    return func.strftime("%Y-%m", column)


def accesses_by_agency() -> tuple[list[str], dict[str, list[int]]]:
    """Allowed accesses to case data per agency per month (last 12 months with data)."""
    month = _month(AuditEvent.at).label("month")
    rows = db.session.execute(
        select(month, AuditEvent.agency, func.count())
        .where(_recent(), AuditEvent.case_id.is_not(None), AuditEvent.outcome == "allowed",
               AuditEvent.agency.is_not(None))
        .group_by(month, AuditEvent.agency)).all()
    return _pivot(rows)


def break_glass_by_month() -> tuple[list[str], dict[str, list[int]]]:
    month = _month(AuditEvent.at).label("month")
    rows = db.session.execute(
        select(month, func.count()).where(_recent(), AuditEvent.action == "case:break-glass",
                                          AuditEvent.outcome == "allowed")
        .group_by(month)).all()
    return _pivot([(m, "break-glass", n) for m, n in rows])


def alerts_by_month() -> tuple[list[str], dict[str, list[int]]]:
    rows = alerts.counts_by_month()[-MONTHS:]
    labels = [m for m, _o, _c in rows]
    return labels, {"opened": [o for _m, o, _c in rows], "closed": [c for _m, _o, c in rows]}


def open_alerts() -> int:
    return db.session.scalar(select(func.count(Alert.id)).where(Alert.status == "open")) or 0


def _pivot(rows) -> tuple[list[str], dict[str, list[int]]]:
    labels = sorted({m for m, _k, _n in rows})[-MONTHS:]
    keys = sorted({k for _m, k, _n in rows})
    series = {k: [0] * len(labels) for k in keys}
    for month, key, count in rows:
        if month in labels:
            series[key][labels.index(month)] = count
    return labels, series
