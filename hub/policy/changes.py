"""Policy changes are audited: the first request a process serves with a policy whose
digest differs from the last one recorded writes a `policy:change` event.

The last digest is read back from the audit log itself (the newest `policy:change`
event), so nothing but the log has to remember it and every process, on every host,
agrees. Two processes starting together may both record the same change; that is a
duplicate, never a gap.
"""

from __future__ import annotations

import threading

from flask import Flask, current_app
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError

from hub.auditlog import writer as audit
from hub.auditlog.models import AuditEvent
from hub.extensions import db

ACTION = "policy:change"
_FLAG = "hub.policy_change_checked"
_lock = threading.Lock()


def last_recorded_digest() -> str | None:
    event = db.session.scalar(select(AuditEvent).where(AuditEvent.action == ACTION)
                              .order_by(AuditEvent.seq.desc()).limit(1))
    if event is None:
        return None
    return (event.details or {}).get("new_digest") or event.policy_digest


def record_if_changed() -> AuditEvent | None:
    """Write the `policy:change` event when the loaded policy is not the last recorded."""
    policy = current_app.extensions["hub.policy"]
    try:
        old = last_recorded_digest()
    except SQLAlchemyError as exc:  # no audit log to compare with: fail closed
        db.session.rollback()
        raise audit.AuditUnavailable from exc
    if old == policy.digest:
        return None
    rules = len(policy.set.base_rules) + sum(map(len, policy.set.area_rules.values()))
    details = {"old_digest": old, "new_digest": policy.digest, "rules": rules,
               "areas": sorted(policy.set.area_rules)}
    return audit.record_now(ACTION, details=details)


def check_once() -> None:
    """Before the process's first request. Until the event is durable, no request is
    served (AuditUnavailable is a 503), so no access happens under an unrecorded policy."""
    app = current_app._get_current_object()
    if app.extensions.get(_FLAG):
        return
    with _lock:
        if not app.extensions.get(_FLAG):
            record_if_changed()
            app.extensions[_FLAG] = True


def reset(app: Flask) -> None:
    """Forget that this process checked (tests; and after reloading the policy)."""
    app.extensions.pop(_FLAG, None)
