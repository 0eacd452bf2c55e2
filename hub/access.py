"""The request pipeline every case route shares: who is asking, may they, load, then act.

Views and API handlers call these and never decide access themselves. Each refusal is
written to the audit log before the response is sent.
"""

from __future__ import annotations

from flask import abort, g

from hub.auditlog import writer as audit
from hub.cases import queries
from hub.cases.models import Case, Membership
from hub.policy import CaseDecision, Permission, Principal, Relationship, current_policy


def principal() -> Principal:
    user = g.get("user")
    if user is None:
        abort(401)
    return Principal.of(user)


def can(permission: Permission) -> bool:
    """May the caller do this? For showing or hiding a control; ``require`` enforces."""
    return current_policy().has_permission(principal(), permission)


def require(permission: Permission, case_id: int | None = None) -> Principal:
    """The paired "require" form of ``Policy.has_permission``: 403, audited, when denied."""
    who = principal()
    if not current_policy().has_permission(who, permission):
        audit.record_now(str(permission), "denied", case_id=case_id,
                         rule=f"role {who.agency}/{who.role} lacks {permission}")
        abort(403)
    return who


def open_case(case_id: int, action: str = "case:read") -> tuple[Case, CaseDecision]:
    """Load a case the caller may see. To anyone else it does not exist (404, audited)."""
    who = principal()
    case = queries.case_for_view(case_id)
    decision = queries.decide(who, case)
    if not decision.allowed:
        audit.record_now(action, "denied", case_id=case.id if case else None,
                         rule=decision.why, details={} if case else {"requested_id": case_id})
        abort(404)
    return case, decision


def open_case_as_member(case_id: int, action: str) -> tuple[Case, CaseDecision]:
    """``open_case`` for changes to the case team, which only its members may make.

    Break-glass lets a person read for a while; it never lets them widen who may read.
    Adding themselves (or their agency) would turn a time-limited grant into a permanent
    one that no DPO alert would ever review.
    """
    case, decision = open_case(case_id, action)
    if decision.relationship is not Relationship.MEMBER:
        audit.record_now(action, "denied", case_id=case.id,
                         rule=f"only team members change the team, not {decision.relationship}")
        abort(403)
    return case, decision


def case_for_break_glass(case_id: int) -> Case:
    """The case a break-glass request names, if it is in the caller's own area.

    Each area is a separate STAC with its own team: a supervisor's emergency access stops
    at their area's border, and to them another area's case does not exist (404, audited).
    """
    case = _in_own_area(queries.case_for_view(case_id), {"requested_id": case_id})
    if case is None:
        abort(404)
    return case


def case_for_break_glass_reference(reference: str) -> Case | None:
    """``case_for_break_glass`` for a reference the person typed: None (audited) when no case
    in their area has it, whether it is in another area or nowhere, so that the page can
    say so in words without revealing which. ``reference`` is already validated."""
    return _in_own_area(queries.case_by_reference(reference), {"requested_reference": reference})


def _in_own_area(case: Case | None, requested: dict) -> Case | None:
    if case is None or case.area.code != principal().area:
        audit.record_now("case:break-glass", "denied", case_id=case.id if case else None,
                         rule="no such case" if case is None else "case in another area",
                         details=requested)
        return None
    return case


def found(row, action: str, **details):
    """``row``, or a 404 (audited, with what was asked for) when there is no such record."""
    if row is None:
        audit.record_now(action, "denied", rule="no such record", details=details)
        abort(404)
    return row


def membership_on(case: Case, membership_id: int, action: str) -> Membership:
    """A current place on ``case``'s team. Any other id is not there (404, audited): a
    removed member, or one of another case, cannot be removed through this case."""
    found = queries.membership(case, membership_id)
    if found is None:
        audit.record_now(action, "denied", case_id=case.id, rule="no such team member",
                         details={"membership_id": membership_id})
        abort(404)
    return found
