"""The one audit event writer. Every access, change, denial and sign-in passes through here.

It captures the request context itself (request id, client address, user agent, the
signed-in user), so callers cannot forget it. Reads are committed before the response is
built; writes commit in the same transaction as the data. If the event cannot be written
the request fails with 503 and returns nothing: no access without a record.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable

from flask import current_app, g, has_request_context, request
from sqlalchemy.exc import SQLAlchemyError

from hub.auditlog.models import AuditEvent, AuditSubject
from hub.extensions import db
from hub.timeutil import utcnow

log = logging.getLogger(__name__)


class AuditUnavailable(Exception):
    """The audit log cannot be written, so the request must not return data."""


def record(action: str, outcome: str = "allowed", *, case_id: int | None = None,
           classes: Iterable[str] = (), subject_ids: Iterable[int] = (),
           purpose: str | None = None, grant_id: int | None = None, rule: str | None = None,
           details: dict | None = None, user=None) -> AuditEvent:
    """Add an event to the current transaction. The caller commits (see ``commit``)."""
    user = user if user is not None else _request_user()
    event = AuditEvent(
        at=utcnow(), action=action, outcome=outcome, case_id=case_id,
        classes=sorted(set(classes)), subject_ids=sorted(set(subject_ids)), purpose=purpose,
        grant_id=grant_id, rule=rule[:200] if rule else None, details=details or {},
        policy_digest=current_app.extensions["hub.policy"].digest,
        **_who(user), **_where())
    db.session.add(event)
    try:  # flush now: a log that cannot be written must stop the request here, as a 503
        db.session.flush()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.error("audit log write failed: %s", type(exc).__name__)
        raise AuditUnavailable from exc
    db.session.add_all(AuditSubject(seq=event.seq, person_id=p) for p in event.subject_ids)
    return event


def commit() -> None:
    """Commit the transaction holding the event (and any data written with it)."""
    try:
        db.session.commit()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.error("audit log write failed: %s", type(exc).__name__)
        raise AuditUnavailable from exc


def record_now(action: str, outcome: str = "allowed", **kwargs) -> AuditEvent:
    """Record and commit at once: reads and denials are durable before any response."""
    try:
        event = record(action, outcome, **kwargs)
    except SQLAlchemyError as exc:  # e.g. a flush of earlier work fails
        db.session.rollback()
        raise AuditUnavailable from exc
    commit()
    return event


def _request_user():
    return g.get("user") if has_request_context() else None


def _who(user) -> dict:
    if user is None:
        return {"user_id": None, "username": None, "agency": None, "role": None}
    return {"user_id": user.id, "username": user.username, "agency": user.agency.code,
            "role": user.role}


def _where() -> dict:
    if not has_request_context():
        return {"request_id": None, "client_addr": None, "user_agent": "hub-cli"}
    return {"request_id": g.get("request_id"), "client_addr": request.remote_addr,
            "user_agent": (request.user_agent.string or "")[:200]}
