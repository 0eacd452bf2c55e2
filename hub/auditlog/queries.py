"""The DPO's questions about the log, as filtered, stably ordered, correctly counted queries.

Every list has a total order ending in ``seq`` (unique), so pages never overlap or skip, and
every total counts the same filtered SELECT the page is cut from.
"""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import func, select

from hub.auditlog.models import AuditEvent, AuditSubject
from hub.extensions import db

EQUALITY_FILTERS = ("username", "user_id", "agency", "role", "action", "outcome", "case_id",
                    "purpose")
BREAK_GLASS = "break-glass"


def filtered(args: dict):
    """A SELECT of events matching every given filter (unordered)."""
    query = select(AuditEvent)
    for name in EQUALITY_FILTERS:
        if args.get(name) not in (None, ""):
            query = query.where(getattr(AuditEvent, name) == args[name])
    if args.get("person_id") is not None:
        query = query.where(AuditEvent.seq.in_(
            select(AuditSubject.seq).where(AuditSubject.person_id == args["person_id"])))
    if args.get("break_glass"):
        query = query.where(AuditEvent.purpose == BREAK_GLASS)
    if args.get("since") is not None:
        query = query.where(AuditEvent.at >= args["since"])
    if args.get("until") is not None:
        query = query.where(AuditEvent.at < args["until"])
    return query


def ordering(args: dict) -> tuple:
    """Newest first. With a date range, by time (then seq, to break ties) so PostgreSQL
    walks the (column, at) or (at) index inside the range instead of scanning back through
    every later event by seq; otherwise by seq, served by the (column, seq) indexes."""
    if args.get("since") is not None or args.get("until") is not None:
        return AuditEvent.at.desc(), AuditEvent.seq.desc()
    return (AuditEvent.seq.desc(),)


def count(args: dict) -> int:
    query = filtered(args).with_only_columns(func.count(), maintain_column_froms=True)
    return db.session.scalar(query) or 0


def page(args: dict, page_no: int, per_page: int) -> tuple[list[AuditEvent], int]:
    rows = db.session.scalars(filtered(args).order_by(*ordering(args))
                              .limit(per_page).offset((page_no - 1) * per_page)).all()
    return list(rows), count(args)


def iterate(args: dict, limit: int) -> Iterator[AuditEvent]:
    """Events for an export, newest first, at most ``limit``, fetched in batches."""
    query = filtered(args).order_by(*ordering(args)).limit(limit)
    yield from db.session.scalars(query.execution_options(yield_per=1000))


def history(args: dict) -> list[dict]:
    """Who saw what: one row per user, agency, role and purpose, with the classes seen.

    Counts only allowed accesses; denials are answered by the search (outcome=denied).
    """
    query = filtered({**args, "outcome": "allowed"}).with_only_columns(
        AuditEvent.username, AuditEvent.agency, AuditEvent.role, AuditEvent.purpose,
        AuditEvent.at, AuditEvent.classes).order_by(AuditEvent.seq)
    groups: dict[tuple, dict] = {}
    for username, agency, role, purpose, at, classes in db.session.execute(query):
        row = groups.setdefault((username, agency, role, purpose), {
            "username": username, "agency": agency, "role": role, "purpose": purpose,
            "first_at": at.isoformat(), "count": 0, "classes": set()})
        row["count"] += 1
        row["last_at"] = at.isoformat()
        row["classes"].update(classes or [])
    rows = [{**r, "classes": sorted(r["classes"])} for r in groups.values()]
    return sorted(rows, key=lambda r: (r["last_at"], r["username"] or ""), reverse=True)


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
    ).all())
