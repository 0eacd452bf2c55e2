"""Reads of case data. Every query that returns cases is filtered by the policy in SQL."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import selectinload

from hub.accounts.models import Agency
from hub.cases.models import BreakGlassGrant, Case, CaseParty, Entry, Membership
from hub.extensions import db
from hub.policy import CaseDecision, Principal, Relationship, current_policy, plan
from hub.timeutil import utcnow


@dataclass
class Page:
    items: list[Case]
    total: int
    page: int
    per_page: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))


def relationship(principal: Principal, case: Case) -> Relationship | None:
    """Why ``principal`` may be looking at ``case``: a team member, or break-glass."""
    agency_id = select(Agency.id).where(Agency.code == principal.agency).scalar_subquery()
    member = db.session.scalar(select(func.count()).where(
        Membership.case_id == case.id, Membership.removed_at.is_(None),
        (Membership.user_id == principal.user_id) | (Membership.agency_id == agency_id)))
    if member:
        return Relationship.MEMBER
    if active_grant(principal, case) is not None:
        return Relationship.BREAK_GLASS
    return None


def active_grant(principal: Principal, case: Case) -> BreakGlassGrant | None:
    return db.session.scalar(
        select(BreakGlassGrant).where(
            BreakGlassGrant.case_id == case.id, BreakGlassGrant.user_id == principal.user_id,
            BreakGlassGrant.expires_at > utcnow())
        .order_by(BreakGlassGrant.expires_at.desc()).limit(1))


def decide(principal: Principal, case: Case | None) -> CaseDecision:
    """The policy's decision for ``principal`` on ``case`` (denied when there is no case)."""
    policy = current_policy()
    if case is None:
        return policy.case_decision(principal, "", None)
    return policy.case_decision(principal, case.area.code, relationship(principal, case),
                                case.status)


def search(principal: Principal, q: str = "", page: int = 1, per_page: int = 20) -> Page:
    policy, now = current_policy(), utcnow()
    where = [plan.visible_cases(policy, principal, now)]
    if q.strip():
        where.append(plan.matches_search(policy, principal, now, q.strip()))
    total = db.session.scalar(select(func.count(Case.id)).where(*where)) or 0
    rows = db.session.scalars(
        select(Case).where(*where)
        .options(selectinload(Case.parties).joinedload(CaseParty.person))
        .order_by(Case.referred_on.desc(), Case.id.desc())
        .limit(per_page).offset((page - 1) * per_page)).unique().all()
    return Page(list(rows), total, page, per_page)


def case_for_view(case_id: int) -> Case | None:
    return db.session.scalar(
        select(Case).where(Case.id == case_id)
        .options(selectinload(Case.parties).joinedload(CaseParty.person),
                 selectinload(Case.members)))


def entries(case: Case) -> list[Entry]:
    return list(db.session.scalars(
        select(Entry).where(Entry.case_id == case.id)
        .options(selectinload(Entry.versions)).order_by(Entry.created_at, Entry.id)))
