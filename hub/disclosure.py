"""The one way out for case data: load, decide, redact, record, and only then respond.

Every response that carries case data is built inside ``read`` (one case), ``read_list``
(a page of cases) or ``answer_write`` (the body of a write's response). Each hands the
redaction builders a ``Disclosure``, in which they note every class and person they put in
the body; ``read`` and ``read_list`` then record it as one audit event, committed before
the body is handed back to a page or the API.

The guard makes this structural: a ``Disclosure`` that received anything enrols itself in
the request, and ``refuse_unrecorded`` (an after-request hook) replaces any response whose
request still holds an unrecorded one with a 500 that carries nothing. A new handler that
builds a body without the pipeline fails closed, on its first request, in any test.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from flask import g, has_request_context

from hub import access
from hub.auditlog import writer as audit
from hub.auditlog.models import AuditEvent
from hub.cases import queries
from hub.policy import CaseDecision, Relationship

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Disclosure:
    """What a response reveals: the audit event's ``classes`` and ``subject_ids``."""

    classes: set[str] = field(default_factory=set)
    subject_ids: set[int] = field(default_factory=set)
    recorded: bool = False

    def add(self, info_class: str, person=None) -> None:
        self._enrol()
        self.classes.add(info_class)
        if person is not None:
            self.subject_ids.add(person.id)

    def add_people(self, person_ids) -> None:
        self._enrol()
        self.subject_ids.update(person_ids)

    def withdraw(self) -> None:
        """The body this was building will never be sent."""
        pending = g.get("hub_disclosures", []) if has_request_context() else []
        if self in pending:
            pending.remove(self)

    def _enrol(self) -> None:
        if has_request_context() and not self.recorded:
            pending = g.setdefault("hub_disclosures", [])
            if self not in pending:
                pending.append(self)


@dataclass
class Read:
    """A case as the caller may see it, and the event that put it on the record."""

    body: Any
    event: AuditEvent


Builder = Callable[[Disclosure], Any]


def read(case_id: int, action: str,
         build: Callable[[Any, CaseDecision, Disclosure], Any]) -> Read:
    """Open a case the caller may see (404, audited, otherwise), build its body and record
    the disclosure before returning it."""
    case, decision = access.open_case(case_id, action)
    return read_open(case, decision, action, lambda out: build(case, decision, out))


def read_open(case, decision: CaseDecision, action: str, build: Builder, **details) -> Read:
    """``read`` for a case a handler has already opened (a form shown again, say)."""
    out = Disclosure()
    body = build(out)
    event = _record(action, out, case=case, decision=decision, details=details)
    return Read(body, event)


def read_list(action: str, build: Builder, **details) -> Any:
    """A list or search of cases: one event for the page, naming what it revealed."""
    out = Disclosure()
    body = build(out)
    _record(action, out, details=details)
    return body


def answer_write(event: AuditEvent, build: Builder) -> Any:
    """The body of a write's response: what the caller has just written, which the write's
    own event (``event``, committed with the data) already records."""
    out = Disclosure()
    body = build(out)
    out.recorded = event is not None
    return body


def _record(action: str, out: Disclosure, *, case=None, decision: CaseDecision | None = None,
            details: dict) -> AuditEvent:
    try:
        event = audit.record_now(
            action, case_id=case.id if case is not None else None, classes=out.classes,
            subject_ids=out.subject_ids, grant_id=_grant_id(case, decision), details=details,
            purpose=decision.relationship.purpose if decision is not None else None,
            rule=decision.why if decision is not None else None)
    except Exception:
        out.withdraw()  # the body dies with the exception: nothing left to refuse
        raise
    out.recorded = True
    return event


def _grant_id(case, decision: CaseDecision | None) -> int | None:
    """Reads under break-glass name their grant, so its review lists what was read."""
    if decision is None or decision.relationship is not Relationship.BREAK_GLASS:
        return None
    grant = queries.active_grant(access.principal(), case)
    return grant.id if grant is not None else None


def refuse_unrecorded(response):
    """After each request: no response leaves while a disclosure made for it is unrecorded."""
    pending = [d for d in g.get("hub_disclosures", ()) if not d.recorded]
    if not pending:
        return response
    log.error("refused a response carrying unrecorded case data (%s)",
              ", ".join(sorted({c for d in pending for c in d.classes})))
    response.set_data(b"")
    response.status_code = 500
    response.headers.pop("Content-Type", None)
    return response
