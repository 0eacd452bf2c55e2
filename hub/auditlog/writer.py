"""The one audit event writer. Every access, change, denial and sign-in passes through here.

It captures the request context itself (request id, client address, user agent, the
signed-in user), so callers cannot forget it. Reads are committed before the response is
built; writes commit in the same transaction as the data. If the event cannot be written
the request fails with 503 and returns nothing: no access without a record.

It also hashes the event's Merkle leaf (``leaf_hash``), once, here: the sequencer then
integrates hashes without reading or canonicalising the events again. The hash is of the
values as the database will give them back (JSON columns after a JSON round trip, ids
as integers), because `hub audit verify` recomputes it from the stored row.
"""

from __future__ import annotations

import json
import logging
import operator
from collections.abc import Iterable

from flask import current_app, g, has_request_context, request
from sqlalchemy.exc import SQLAlchemyError

from audit import CanonicalizationError, event_leaf_hash
from hub.auditlog.models import AuditEvent, AuditSubject
from hub.auditlog.tree import leaf_content
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
    values = dict(
        at=utcnow(), action=action, outcome=outcome, case_id=_id(case_id),
        classes=sorted(set(classes)), subject_ids=sorted({_id(p) for p in subject_ids}),
        purpose=purpose, grant_id=_id(grant_id), rule=rule[:200] if rule else None,
        details=details or {}, policy_digest=current_app.extensions["hub.policy"].digest,
        **_who(user), **_where())
    try:
        values["details"] = _as_stored(values["details"])
        digest = event_leaf_hash(leaf_content(values))
    except (CanonicalizationError, TypeError, ValueError) as exc:  # cannot be hashed
        db.session.rollback()
        log.error("audit event cannot be hashed: %s", type(exc).__name__)
        raise AuditUnavailable from exc
    event = AuditEvent(**values, leaf_hash=digest)
    db.session.add(event)
    try:  # flush now: a log that cannot be written must stop the request here, as a 503
        db.session.flush()
    except SQLAlchemyError as exc:
        db.session.rollback()
        log.error("audit log write failed: %s", type(exc).__name__)
        raise AuditUnavailable from exc
    db.session.add_all(AuditSubject(seq=event.seq, person_id=p) for p in event.subject_ids)
    if has_request_context():
        g.hub_last_event = event
    return event


def last_event() -> AuditEvent | None:
    """The event this request recorded last (the one a write's response answers to)."""
    return g.get("hub_last_event") if has_request_context() else None


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


def _id(value) -> int | None:
    """An id as the integer column stores it (SQLite would turn "5" or 5.0 into 5)."""
    return None if value is None else operator.index(value)


def _as_stored(details: dict) -> dict:
    """``details`` as the JSON column returns it: tuples become lists, int keys text."""
    return json.loads(json.dumps(details))


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
