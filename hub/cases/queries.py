"""Reads of case data. Every query that returns cases is filtered by the policy in SQL."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import NamedTuple

from sqlalchemy import Select, and_, bindparam, func, or_, select
from sqlalchemy.orm import joinedload, selectinload

from hub.accounts.models import Agency, User
from hub.auditlog.models import AuditEvent
from hub.cases.models import (
    BreakGlassGrant,
    Case,
    CaseParty,
    Entry,
    EntryVersion,
    JoinRequest,
    Membership,
    Person,
    PersonChange,
    Referral,
    RiskAssessment,
    StatusChange,
)
from hub.extensions import db
from hub.policy import (
    CaseDecision,
    Permission,
    Principal,
    Relationship,
    current_policy,
    plan,
)
from hub.sql import LIKE_ESCAPE, contains
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
    return relationships(principal, [case])[case.id]


def relationships(principal: Principal, cases) -> dict[int, Relationship | None]:
    """``relationship`` for each of a page of cases, in two queries for the page."""
    ids = [c.id for c in cases]
    values = {"user_id": principal.user_id, "agency_id": principal.agency_id}
    members = set(db.session.scalars(_ON_TEAM[principal.agency_id is not None],
                                     {**values, "ids": ids})) if ids else set()
    others = [i for i in ids if i not in members]
    granted = set(db.session.scalars(_GRANTED, {**values, "ids": others, "now": utcnow()})
                  ) if others else set()
    return {i: Relationship.MEMBER if i in members else
            Relationship.BREAK_GLASS if i in granted else None for i in ids}


# Built once: which of some cases (``ids``) have the principal on their team, by name or,
# when they have an agency (True), as that agency (the places lists are filtered by), and
# which they hold an unexpired break-glass grant for.
_ON_TEAM = {in_agency: plan.member_case_ids(Principal(
    bindparam("user_id"), "", "", "", agency_id=bindparam("agency_id") if in_agency else None))
    .where(Membership.case_id.in_(bindparam("ids", expanding=True)))
    for in_agency in (False, True)}
_GRANTED = select(BreakGlassGrant.case_id).where(
    BreakGlassGrant.case_id.in_(bindparam("ids", expanding=True)),
    BreakGlassGrant.user_id == bindparam("user_id"), BreakGlassGrant.expires_at > bindparam("now"))


def active_grant(principal: Principal, case: Case) -> BreakGlassGrant | None:
    return db.session.scalar(
        select(BreakGlassGrant).where(
            BreakGlassGrant.case_id == case.id, BreakGlassGrant.user_id == principal.user_id,
            BreakGlassGrant.expires_at > utcnow())
        .order_by(BreakGlassGrant.expires_at.desc()).limit(1))


def grant(grant_id: int | None) -> BreakGlassGrant | None:
    return db.session.get(BreakGlassGrant, grant_id) if grant_id is not None else None


def decide(principal: Principal, case: Case | None) -> CaseDecision:
    """The policy's decision for ``principal`` on ``case`` (denied when there is no case)."""
    if case is None:
        return current_policy().case_decision(principal, "", None)
    return decide_each(principal, [case])[case.id]


def decide_each(principal: Principal, cases) -> dict[int, CaseDecision]:
    """``decide`` for each of a page of cases, by case id."""
    policy, why = current_policy(), relationships(principal, cases)
    return {c.id: policy.case_decision(principal, c.area.code, why[c.id], c.status)
            for c in cases}


def search(principal: Principal, q: str = "", page: int = 1, per_page: int = 20) -> Page:
    count, rows = _search_statements(current_policy(), principal.agency, principal.role,
                                     principal.agency_id is not None, bool(q.strip()))
    values = {"user_id": principal.user_id, "agency_id": principal.agency_id,
              "now": utcnow(), "pattern": contains(q.strip().lower()),
              "limit": per_page, "offset": (page - 1) * per_page}
    total = db.session.scalar(count, values) or 0
    items = db.session.scalars(rows, values).unique().all()
    return Page(list(items), total, page, per_page)


@lru_cache(maxsize=512)
def _search_statements(policy, agency: str, role: str, in_agency: bool,
                       searching: bool) -> tuple[Select, Select]:
    """The count and the page of a list or search, built once for each kind of principal
    (the policy's filter depends on agency and role only) with the principal's ids, the
    time and the search text left as parameters: building the filter costs more than
    running it, and a statement used again is compiled only once."""
    who = Principal(bindparam("user_id"), "", agency, role,
                    agency_id=bindparam("agency_id") if in_agency else None)
    now = bindparam("now")
    where = [plan.visible_cases(policy, who, now)]
    if searching:
        where.append(plan.matches_search(policy, who, now, bindparam("pattern")))
    count = select(func.count(Case.id)).where(*where)
    rows = (select(Case).where(*where)
            .options(selectinload(Case.parties).joinedload(CaseParty.person))
            .order_by(Case.referred_on.desc(), Case.id.desc())
            .limit(bindparam("limit")).offset(bindparam("offset")))
    return count, rows


def case_for_view(case_id: int) -> Case | None:
    """A case with what every read of it uses: its keys, its people and its team."""
    return db.session.execute(_CASE_FOR_VIEW, {"case_id": case_id}
                              ).unique().scalar_one_or_none()


# The statements every case view runs, built once: a statement used again costs neither
# building nor working out its cache key.
_CASE_FOR_VIEW = (
    select(Case).where(Case.id == bindparam("case_id"))
    .options(joinedload(Case.data_key),
             joinedload(Case.parties).joinedload(CaseParty.person).joinedload(Person.data_key),
             selectinload(Case.members)))


class Author(NamedTuple):
    display_name: str


class AuthorAgency(NamedTuple):
    code: str


@dataclass(frozen=True, slots=True)
class CurrentVersion:
    """The version of an entry that a read shows: its latest."""

    entry_id: int
    version: int
    content_ct: str | None
    author_id: int
    created_at: datetime

    context = EntryVersion.context  # decrypted just as the stored version is
    content = EntryVersion.content


@dataclass(frozen=True, slots=True)
class EntryRead:
    """An entry as a read of its case uses it: the fields redaction reads, its author's
    name and agency, and its current version only (older ones are for subject access)."""

    id: int
    kind: str
    info_class: str
    restricted_to: list[str] | None
    subject_person_id: int | None
    created_at: datetime
    version: int
    author: Author
    author_agency: AuthorAgency
    current: CurrentVersion


def entries(case: Case) -> list[EntryRead]:
    """The case's entries, oldest first: one query, plain rows rather than mapped objects
    (a case view is the hub's most frequent request)."""
    rows = db.session.execute(_ENTRIES, {"case_id": case.id})
    return [EntryRead(i, kind, cls, restricted, subject, at, version, Author(name),
                      AuthorAgency(code), CurrentVersion(i, version, ct, by, changed))
            for i, kind, cls, restricted, subject, at, version, name, code, ct, by, changed
            in rows]


_ENTRIES = (
    select(Entry.id, Entry.kind, Entry.info_class, Entry.restricted_to,
           Entry.subject_person_id, Entry.created_at, Entry.version, User.display_name,
           Agency.code, EntryVersion.content_ct, EntryVersion.author_id, EntryVersion.created_at)
    .join(User, User.id == Entry.author_id)
    .join(Agency, Agency.id == Entry.author_agency_id)
    .join(EntryVersion, and_(EntryVersion.entry_id == Entry.id,
                             EntryVersion.version == Entry.version))
    .where(Entry.case_id == bindparam("case_id")).order_by(Entry.created_at, Entry.id))


# -- the case page ----------------------------------------------------------------------
def person_changes(case: Case) -> dict[int, list[PersonChange]]:
    """Corrections of the case's people, oldest first, by person id."""
    ids = [p.person_id for p in case.parties]
    out: dict[int, list[PersonChange]] = {i: [] for i in ids}
    for change in db.session.scalars(_PERSON_CHANGES, {"ids": ids}):
        out[change.person_id].append(change)
    return out


# Each change's person is one of the case's, loaded with it already.
_PERSON_CHANGES = (select(PersonChange)
                   .where(PersonChange.person_id.in_(bindparam("ids", expanding=True)))
                   .order_by(PersonChange.id))


def person_version(person: Person, decision: CaseDecision) -> int:
    """Corrections of the person the caller can see, as the case's ``history`` lists
    them: the version a correction must name, so that a stale one is refused."""
    classes = [c for c in current_policy().classes if decision.can_read(c)]
    return db.session.scalar(select(func.count(PersonChange.id)).where(
        PersonChange.person_id == person.id, PersonChange.info_class.in_(classes))) or 0


def referrer_agency(case: Case) -> str | None:
    """The agency of the user who referred the case: it holds what the referral recorded."""
    return db.session.scalar(_REFERRER_AGENCY, {"user_id": case.created_by_id})


def previous_visit(user_id: int, case_id: int) -> datetime | None:
    """When the user last read the case: asked before this read is recorded."""
    return db.session.scalar(_PREVIOUS_VISIT, {"user_id": user_id, "case_id": case_id})


RISK_LOOKBACK = 200  #: case updates searched for the last risk change; older ones are rare


def risk_last_set(case: Case) -> tuple[datetime, str | None]:
    """When the risk level was last set, and by which agency: the latest change of it the
    audit log records, or the referral that first set it."""
    for at, agency, details in db.session.execute(_CASE_UPDATES, {"case_id": case.id}):
        if "risk_level" in (details or {}).get("fields", ()):
            return at, agency
    return case.created_at, referrer_agency(case)


# What the case page asks besides the case, built once (as the case view's statements).
_REFERRER_AGENCY = (select(Agency.code).join(User, User.agency_id == Agency.id)
                    .where(User.id == bindparam("user_id")))
_PREVIOUS_VISIT = (
    select(AuditEvent.at).where(
        AuditEvent.case_id == bindparam("case_id"), AuditEvent.user_id == bindparam("user_id"),
        AuditEvent.action == "case:read", AuditEvent.outcome == "allowed")
    .order_by(AuditEvent.seq.desc()).limit(1))
_CASE_UPDATES = (
    select(AuditEvent.at, AuditEvent.agency, AuditEvent.details).where(
        AuditEvent.case_id == bindparam("case_id"), AuditEvent.action == "case:update",
        AuditEvent.outcome == "allowed")
    .order_by(AuditEvent.seq.desc()).limit(RISK_LOOKBACK))


# -- the case team and break-glass by reference (issue 10) -------------------------------
STAFF_SHOWN = 20  #: staff search results on one page; more means the name is too short


def active_members(case: Case) -> list[Membership]:
    """The case team now, named users and whole agencies, in the order they joined."""
    return list(db.session.scalars(
        select(Membership).where(Membership.case_id == case.id, Membership.removed_at.is_(None))
        .order_by(Membership.id)))


def membership(case: Case, membership_id: int) -> Membership | None:
    """A place on this case's team that has not been taken away."""
    return db.session.scalar(select(Membership).where(
        Membership.id == membership_id, Membership.case_id == case.id,
        Membership.removed_at.is_(None)))


def caseworking_roles() -> list[tuple[str, str]]:
    """(agency kind, role) pairs that work cases: roles that list cases, of the kinds of
    agency whose staff do casework (policies/roles.yaml)."""
    policy = current_policy()
    return sorted((kind, role) for kind in policy.casework_kinds()
                  for role, allowed in policy.roles(kind).items()
                  if Permission.CASE_LIST in allowed)


def staff_matching(name: str) -> list[User]:
    """Active caseworkers of active partner agencies whose name contains ``name``.

    A staff directory only: it reads users and agencies, never a case."""
    pairs = caseworking_roles()
    if not name.strip() or not pairs:
        return []
    pattern = contains(name.strip().lower())
    return list(db.session.scalars(
        select(User).join(Agency, User.agency_id == Agency.id)
        .where(User.active, Agency.active,
               func.lower(User.display_name).like(pattern, escape=LIKE_ESCAPE),
               or_(*(and_(Agency.kind == k, User.role == r) for k, r in pairs)))
        .order_by(User.display_name, User.id).limit(STAFF_SHOWN)))


def partner_agencies(area_id: int | None = None) -> list[Agency]:
    """Active agencies with caseworkers, which may join a case team as a whole: those that
    serve every area, or ``area_id``'s."""
    kinds = sorted({kind for kind, _role in caseworking_roles()})
    serves = Agency.area_id.is_(None) | (Agency.area_id == area_id)
    return list(db.session.scalars(
        select(Agency).where(Agency.active, Agency.kind.in_(kinds), serves)
        .order_by(Agency.code)))


def case_by_reference(reference: str) -> Case | None:
    return db.session.scalar(select(Case).where(Case.reference == reference))


# -- casework: referral and risk assessments (issue 14) ------------------------------------
def referral(case: Case) -> Referral | None:
    return db.session.scalar(select(Referral).where(Referral.case_id == case.id))


def referral_by_id(referral_id: int) -> Referral | None:
    return db.session.get(Referral, referral_id)


def risk_assessments(case: Case) -> list[RiskAssessment]:
    """The case's risk assessments, newest first: the first one's level is the case's."""
    return list(db.session.scalars(select(RiskAssessment).where(
        RiskAssessment.case_id == case.id).order_by(RiskAssessment.assessed_at.desc(),
                                                    RiskAssessment.id.desc())))


def screening_queue(principal: Principal) -> list[Case]:
    """Referrals waiting for screening that the caller is on the team of, oldest first."""
    visible = plan.visible_cases(current_policy(), principal, utcnow())
    return list(db.session.scalars(
        select(Case).where(visible, Case.status.in_(("referred", "screening")))
        .options(selectinload(Case.parties)).order_by(Case.referred_on, Case.id)))


def status_history(case: Case) -> list[StatusChange]:
    return list(db.session.scalars(select(StatusChange).where(
        StatusChange.case_id == case.id).order_by(StatusChange.id)))


def join_request(request_id: int) -> JoinRequest | None:
    return db.session.get(JoinRequest, request_id)


def pending_join_requests(case: Case) -> list[JoinRequest]:
    return list(db.session.scalars(select(JoinRequest).where(
        JoinRequest.case_id == case.id, JoinRequest.decision.is_(None))
        .order_by(JoinRequest.id)))
