"""The policy compiled to SQL: lists, searches and counts never load rows they may not show.

Each function returns a SQLAlchemy boolean expression over ``Case`` that is true exactly
for the cases where ``Policy.case_decision`` would allow the principal (the property test
in tests/policy checks the two never disagree).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, select

from hub.accounts.models import Agency, Area
from hub.cases.models import BreakGlassGrant, Case, CaseParty, Membership, Person
from hub.policy.engine import Policy, Principal
from hub.policy.permissions import Relationship


def is_member(principal: Principal) -> ColumnElement[bool]:
    agency_id = select(Agency.id).where(Agency.code == principal.agency).scalar_subquery()
    return exists().where(
        Membership.case_id == Case.id, Membership.removed_at.is_(None),
        or_(Membership.user_id == principal.user_id, Membership.agency_id == agency_id))


def has_grant(principal: Principal, now: datetime) -> ColumnElement[bool]:
    return exists().where(BreakGlassGrant.case_id == Case.id,
                          BreakGlassGrant.user_id == principal.user_id,
                          BreakGlassGrant.expires_at > now)


def _in_areas(codes: set[str]) -> ColumnElement[bool]:
    if not codes:
        return false()
    return Case.area_id.in_(select(Area.id).where(Area.code.in_(sorted(codes))))


def _areas(policy: Policy, principal: Principal, relationship: Relationship,
           info_class: str | None = None) -> set[str]:
    """Areas where the relationship lets the principal read anything (or ``info_class``)."""
    def readable(grants) -> bool:
        if info_class is None:
            return bool(grants)
        grant = grants.get(info_class)
        return grant is not None and grant.kinds is None

    return {area for area in policy.set.area_rules if readable(
        policy.class_grants(principal.agency, principal.role, area, relationship))}


def visible_cases(policy: Policy, principal: Principal, now: datetime) -> ColumnElement[bool]:
    """Cases the principal may open: DOMAIN rules 1, 2 and 4."""
    member = is_member(principal)
    return or_(
        and_(member, _in_areas(_areas(policy, principal, Relationship.MEMBER))),
        and_(~member, has_grant(principal, now),
             _in_areas(_areas(policy, principal, Relationship.BREAK_GLASS))))


def matches_search(policy: Policy, principal: Principal, now: datetime,
                   text: str) -> ColumnElement[bool]:
    """Search by reference, and by a person's name only where that name may be read."""
    pattern = f"%{_escape_like(text.lower())}%"
    member = is_member(principal)

    def named(party: str, info_class: str) -> ColumnElement[bool]:
        name_hit = exists().where(CaseParty.case_id == Case.id, CaseParty.party == party,
                                  CaseParty.person_id == Person.id,
                                  func.lower(Person.name).like(pattern, escape="\\"))
        return and_(name_hit, or_(
            and_(member, _in_areas(_areas(policy, principal, Relationship.MEMBER, info_class))),
            and_(~member, _in_areas(_areas(policy, principal, Relationship.BREAK_GLASS,
                                           info_class)))))

    return or_(func.lower(Case.reference).like(pattern, escape="\\"),
               named("perpetrator", "perpetrator.identity"),
               named("victim", "victim.identity"))


def _escape_like(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
