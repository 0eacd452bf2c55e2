"""The DPO's questions about the log, as filtered, stably ordered, correctly counted queries."""

from __future__ import annotations

from sqlalchemy import func, select

from hub.auditlog.models import AuditEvent, AuditSubject
from hub.extensions import db


def filtered(args: dict):
    """A SELECT of events matching every given filter, newest first (by sequence)."""
    query = select(AuditEvent)
    for name in ("username", "agency", "role", "action", "outcome", "case_id", "purpose"):
        if args.get(name) not in (None, ""):
            query = query.where(getattr(AuditEvent, name) == args[name])
    if args.get("person_id") is not None:
        query = query.where(AuditEvent.seq.in_(
            select(AuditSubject.seq).where(AuditSubject.person_id == args["person_id"])))
    if args.get("break_glass"):
        query = query.where(AuditEvent.purpose == "break-glass")
    if args.get("since") is not None:
        query = query.where(AuditEvent.at >= args["since"])
    if args.get("until") is not None:
        query = query.where(AuditEvent.at < args["until"])
    return query


def page(args: dict, page_no: int, per_page: int) -> tuple[list[AuditEvent], int]:
    query = filtered(args)
    total = db.session.scalar(select(func.count()).select_from(query.subquery())) or 0
    rows = db.session.scalars(query.order_by(AuditEvent.seq.desc())
                              .limit(per_page).offset((page_no - 1) * per_page)).all()
    return list(rows), total


def event_out(event: AuditEvent, reasons: dict[int, str] | None = None) -> dict:
    body = {"seq": event.seq, "at": event.at.isoformat(), "username": event.username,
            "agency": event.agency, "role": event.role, "action": event.action,
            "case_id": event.case_id, "classes": event.classes, "subject_ids": event.subject_ids,
            "outcome": event.outcome, "purpose": event.purpose, "rule": event.rule,
            "request_id": event.request_id, "client_addr": event.client_addr,
            "details": event.details}
    if event.grant_id is not None and reasons is not None:
        body["reason"] = reasons.get(event.grant_id)
    return body


def grant_reasons(events: list[AuditEvent]) -> dict[int, str]:
    from hub.cases.models import BreakGlassGrant

    ids = {e.grant_id for e in events if e.grant_id is not None}
    if not ids:
        return {}
    return dict(db.session.execute(
        select(BreakGlassGrant.id, BreakGlassGrant.reason).where(BreakGlassGrant.id.in_(ids))
    ).tuples().all())
