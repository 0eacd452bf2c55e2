"""The policy compiled to SQL: lists, searches and counts never load rows they may not show.

Each function returns a SQLAlchemy boolean expression that is true exactly where
``Policy.case_decision`` would allow the principal: the filter is built by asking the
decision itself for every (area, status) the policy knows, so the two cannot drift apart
(tests/policy/test_plan_differential.py checks that they never disagree, on both backends).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import ColumnElement, Select, String, and_, cast, exists, false, func, or_, select
from sqlalchemy.orm import aliased

from hub.accounts.models import Area
from hub.cases.models import BreakGlassGrant, Case, CaseParty, Entry, Membership, Person
from hub.policy.engine import CaseDecision, Policy, Principal
from hub.policy.permissions import CASE_STATUSES, Relationship
from hub.sql import LIKE_ESCAPE, contains


def member_case_ids(principal: Principal) -> Select:
    """Cases whose team holds the principal, by name or as their whole agency (the agency
    itself, never every agency of its kind)."""
    places = [Membership.user_id == principal.user_id]
    if principal.agency_id is not None:
        places.append(Membership.agency_id == principal.agency_id)
    return select(Membership.case_id).where(Membership.removed_at.is_(None), or_(*places))


def is_member(principal: Principal) -> ColumnElement[bool]:
    # IN (subquery) rather than EXISTS: the planner turns it into a semi-join over the
    # few cases the principal works, instead of probing every case in the table.
    return Case.id.in_(member_case_ids(principal))


def scope(policy: Policy, principal: Principal, relationship: Relationship,
          info_class: str | None = None, case=Case) -> ColumnElement[bool]:
    """Cases whose area and status let ``relationship`` read anything (or ``info_class``).

    Asks ``case_decision`` for every area and status, so every condition a rule can
    state about the case (area files, status) is honoured; anything else fails closed.
    ``case`` may be an alias of ``Case`` (inside a sub-select).
    """
    groups: dict[tuple[str, ...], list[str]] = {}
    for area in sorted(policy.set.area_rules):
        statuses = tuple(s for s in CASE_STATUSES
                         if _readable(policy, principal, area, relationship, s, info_class))
        if statuses:
            groups.setdefault(statuses, []).append(area)
    clauses = []
    for statuses, areas in groups.items():
        in_areas = case.area_id.in_(select(Area.id).where(Area.code.in_(areas)))
        clauses.append(in_areas if statuses == CASE_STATUSES
                       else and_(in_areas, case.status.in_(statuses)))
    return or_(*clauses) if clauses else false()


def _readable(policy, principal, area, relationship, status, info_class) -> bool:
    decision = policy.case_decision(principal, area, relationship, status)
    return decision.allowed if info_class is None else decision.can_read(info_class)


def visible_case_ids(policy: Policy, principal: Principal, now: datetime) -> Select:
    """Ids of the cases the principal may open (DOMAIN rules 1, 2 and 4).

    Built from the principal's few memberships and grants outwards (each joined to its
    case for the area and status conditions), so the database never tests every case.
    """
    team, granted = aliased(Case), aliased(Case)
    members = member_case_ids(principal).subquery()
    as_member = select(team.id).join(members, members.c.case_id == team.id).where(
        scope(policy, principal, Relationship.MEMBER, case=team))
    as_break_glass = select(granted.id).join(
        BreakGlassGrant, BreakGlassGrant.case_id == granted.id).where(
        BreakGlassGrant.user_id == principal.user_id, BreakGlassGrant.expires_at > now,
        granted.id.not_in(member_case_ids(principal)),  # a member is never break-glass
        scope(policy, principal, Relationship.BREAK_GLASS, case=granted))
    return as_member.union(as_break_glass)


def visible_cases(policy: Policy, principal: Principal, now: datetime) -> ColumnElement[bool]:
    """Cases the principal may open: DOMAIN rules 1, 2 and 4."""
    return Case.id.in_(visible_case_ids(policy, principal, now))


def matches_search(policy: Policy, principal: Principal, now: datetime,
                   pattern) -> ColumnElement[bool]:
    """Search by reference, and by a person's name only where that name may be read.
    ``pattern`` is a LIKE pattern (``hub.sql.contains``) or a parameter that will hold one."""
    member = is_member(principal)  # within visible cases: not a member means break-glass

    def named(party: str, info_class: str) -> ColumnElement[bool]:
        # Correlated: probed only for the few cases the visibility filter lets through.
        name_hit = exists().where(CaseParty.case_id == Case.id, CaseParty.party == party,
                                  CaseParty.person_id == Person.id,
                                  func.lower(Person.name).like(pattern, escape=LIKE_ESCAPE))
        return and_(name_hit, or_(
            and_(member, scope(policy, principal, Relationship.MEMBER, info_class)),
            and_(~member, scope(policy, principal, Relationship.BREAK_GLASS, info_class))))

    return or_(func.lower(Case.reference).like(pattern, escape=LIKE_ESCAPE),
               named("perpetrator", "perpetrator.identity"),
               named("victim", "victim.identity"))


def readable_entries(decision: CaseDecision, agency: str) -> ColumnElement[bool]:
    """Entries of one case that ``decision`` lets ``agency`` (a kind) read, author narrowing
    included (DOMAIN rule 5): the SQL twin of ``CaseDecision.can_read_entry``."""
    classes = []
    for name, grant in sorted(decision.read.items()):
        clause = Entry.info_class == name
        if grant.kinds is not None:
            clause = and_(clause, Entry.kind.in_(sorted(grant.kinds)))
        classes.append(clause)
    if not classes:
        return false()
    # restricted_to is a JSON list of agency kinds, or JSON null / SQL NULL when the
    # author did not narrow the entry. Codes are quoted in the JSON text, so '"nhs"'
    # cannot match a longer code that merely contains it.
    text = cast(Entry.restricted_to, String)
    open_to_all = or_(Entry.restricted_to.is_(None), text == "null")
    named = text.like(contains(f'"{agency}"'), escape=LIKE_ESCAPE)
    return and_(or_(*classes), or_(open_to_all, named))

