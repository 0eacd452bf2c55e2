"""Every write to case data. Each changes the data and records its audit event in the same
transaction, then commits; if the audit event cannot be written nothing is written."""

from __future__ import annotations

import uuid
from datetime import date, timedelta

from flask import current_app
from sqlalchemy import select

from hub import signals
from hub.accounts.models import Agency, Area, User
from hub.auditlog import writer as audit
from hub.cases import location_guard, matching, queries, subjects
from hub.cases.models import (
    PERSON_FIELDS,
    BreakGlassGrant,
    Case,
    CaseParty,
    DataKey,
    Entry,
    EntryVersion,
    Membership,
    Person,
    PersonChange,
    StatusChange,
)
from hub.errors import Conflict, Forbidden, Invalid, OperationError  # noqa: F401 -- refusals
from hub.extensions import db
from hub.policy import CaseDecision, current_policy
from hub.timeutil import utcnow


def _new_person(data: dict, secrets: tuple[str, ...]) -> Person:
    person = Person(name=data.get("name"), date_of_birth=data.get("date_of_birth"),
                    aliases=data.get("aliases", []),
                    online_identifiers=data.get("online_identifiers", []),
                    pnc_id=data.get("pnc_id"), nhs_number=data.get("nhs_number"),
                    data_key=DataKey.new())
    db.session.add(person)
    db.session.flush()
    for name in secrets:
        if data.get(name):
            person.set_secret(name, data[name])
    return person


def _reference(area: Area, referred_on: date, case_id: int) -> str:
    """Numbered by case id, so concurrent referrals can never collide."""
    return f"STAC-{area.code[:3].upper()}-{referred_on.year}-{case_id:05d}"


VICTIM_SECRETS = ("address", "phone", "email", "workplace", "safe_contact")


def create_case(user: User, data: dict) -> Case:
    """A case, its perpetrator and victims, and the referrer on the team."""
    case, written, people = _new_case(user, data)
    audit.record("case:create", case_id=case.id, classes=written, subject_ids=people,
                 purpose="referral", user=user)
    audit.commit()
    return case


def _new_case(user: User, data: dict) -> tuple[Case, set[str], list[int]]:
    """The case and its people, uncommitted: with the classes written and the people's ids."""
    home = user.agency.area or user.area  # an agency with an area works there only
    area_code = data.get("area") or (home.code if home else None)
    area = db.session.scalar(select(Area).where(Area.code == area_code)) if area_code else None
    if area is None:
        raise Invalid("unknown area", "area")
    if not user.agency.serves(area):  # the referrer joins the team: only in their area
        raise Invalid("your agency works in another area", "area")
    location_guard.check(user, data.get("summary"), field="summary", area=area.code,
                         info_class="case.core",
                         locations=location_guard.new_case_locations(data["victims"]))
    referred_on = data.get("referred_on") or utcnow().date()
    case = Case(reference=f"pending-{uuid.uuid4().hex[:24]}", area=area,  # fits String(32)
                status=data.get("status", "referred"),
                risk_level=data.get("risk_level", "standard"), summary=data.get("summary"),
                referred_on=referred_on, created_by_id=user.id, data_key=DataKey.new())
    db.session.add(case)
    db.session.flush()
    case.reference = _reference(area, referred_on, case.id)
    perpetrator = _new_person(data["perpetrator"], ("address",))
    victims = [_new_person(v, VICTIM_SECRETS) for v in data["victims"]]
    db.session.add(CaseParty(case=case, person=perpetrator, party="perpetrator"))
    db.session.add_all(CaseParty(case=case, person=v, party="victim") for v in victims)
    db.session.add(Membership(case=case, user_id=user.id, added_by_id=user.id))
    record_status(user, case)
    db.session.flush()
    matching.index(case, perpetrator, "perpetrator")
    for victim in victims:
        matching.index(case, victim, "victim")
    written = {"case.core", "victim.identity"}
    if any(data["perpetrator"].get(f) for f in PERSON_FIELDS["perpetrator"]):
        written.add("perpetrator.identity")
    if any(v.get(f) for v in data["victims"] for f in VICTIM_SECRETS):
        written.add("victim.location")
    return case, written, [perpetrator.id, *(v.id for v in victims)]


def update_case(user: User, case: Case, decision: CaseDecision, data: dict) -> Case:
    if not decision.can_write("case.core"):
        raise Forbidden("your agency may not change this case's core details")
    if data["version"] != case.version:
        raise Conflict("the case was changed by someone else; reload and try again", "version")
    if data.get("status", case.status) not in ("referred", "screening") and \
            case.status in ("referred", "screening") and _awaiting_screening(case):
        raise Conflict("this referral is waiting for screening: its coordinator accepts, "
                       "declines or signposts it", "status")
    if "summary" in data and data["summary"] != case.summary:
        location_guard.check_case(user, case, data["summary"], field="summary",
                                  info_class="case.core")
    reason = (data.get("closure_reason") or "").strip() or None
    if data.get("status") == "closed" and case.status != "closed" and reason is None:
        raise Invalid("give the reason for closing the case", "closure_reason")
    location_guard.check_case(user, case, reason, field="closure_reason",
                              info_class="case.core")
    changed = {}
    for name in ("status", "risk_level", "summary", "next_review_on"):
        if name in data and getattr(case, name) != data[name]:
            changed[name] = data[name]
            setattr(case, name, data[name])
    if changed.get("status") == "closed":
        case.closed_on = utcnow().date()
    if changed.get("status") in ("accepted", "active") and case.accepted_on is None:
        case.accepted_on = utcnow().date()
    if "status" in changed:
        record_status(user, case, reason if case.status == "closed" else None)
    case.version += 1
    audit.record("case:update", case_id=case.id, classes=["case.core"],
                 details={"fields": sorted(changed), "version": case.version}, user=user)
    audit.commit()
    return case


def record_status(user: User, case: Case, reason: str | None = None) -> None:
    """The case's status history: the status it has now, and why when it closes."""
    db.session.add(StatusChange(case_id=case.id, status=case.status, reason=reason,
                                user_id=user.id, agency_id=user.agency_id))


def _awaiting_screening(case: Case) -> bool:
    referral = queries.referral(case)
    return referral is not None and referral.decision is None


def add_member(user: User, case: Case, data: dict) -> Membership:
    """Add a named user or a whole agency to the case team."""
    active = [m for m in case.members if m.removed_at is None]
    if "username" in data:
        member = db.session.scalar(select(User).where(User.username == data["username"]))
        if member is None or not member.active:
            raise Invalid("no such active user", "username")
        if not _works_cases(member.agency, member.role):
            raise Invalid("this user does not work cases", "username")
        if not member.agency.serves(case.area):
            raise Invalid("this user's agency works in another area", "username")
        if any(m.user_id == member.id for m in active):
            raise Conflict("already on the case team", "username")
        membership = Membership(case=case, user_id=member.id, added_by_id=user.id)
        details = {"member_user_id": member.id}
    else:
        agency = db.session.scalar(select(Agency).where(Agency.code == data["agency"]))
        if agency is None or not current_policy().does_casework(agency.kind):
            raise Invalid("no such partner agency", "agency")
        if not agency.serves(case.area):
            raise Invalid("that agency works in another area", "agency")
        if any(m.agency_id == agency.id for m in active):
            raise Conflict("that agency is already on the case team", "agency")
        membership = Membership(case=case, agency_id=agency.id, added_by_id=user.id)
        details = {"member_agency": agency.code}
    db.session.add(membership)
    db.session.flush()
    audit.record("case:member:add", case_id=case.id, classes=["case.core"],
                 details={**details, "membership_id": membership.id}, user=user)
    audit.commit()
    return membership


def _works_cases(agency: Agency, role: str) -> bool:
    """A role its agency's kind has, of a kind whose staff do casework (roles.yaml)."""
    policy = current_policy()
    return policy.does_casework(agency.kind) and policy.is_known_role(agency.kind, role)


def add_entry(user: User, case: Case, decision: CaseDecision, data: dict) -> Entry:
    info_class, kind = data["info_class"], data.get("kind", "note")
    if info_class not in current_policy().classes:
        raise Invalid(f"unknown class {info_class!r}", "class")
    if not decision.can_write(info_class):
        raise Forbidden(f"your agency may not write {info_class} on this case", "class")
    _check_kind(kind, info_class)
    restricted = _narrowing(user, data.get("restricted_to"))
    chosen = data.get("subject_person_id")
    if chosen is not None and chosen not in {p.person_id for p in case.parties}:
        raise Invalid("not a person in this case", "subject_person_id")
    location_guard.check_case(user, case, data["body"], field="body", info_class=info_class,
                              kind=kind, restricted_to=restricted, can_narrow=True)
    entry = Entry(case_id=case.id, kind=kind, info_class=info_class, author_id=user.id,
                  author_agency_id=user.agency_id, restricted_to=restricted,
                  subject_person_id=subjects.link(case, info_class, chosen))
    db.session.add(entry)
    db.session.flush()
    write_version(case, entry, user, data["body"])
    audit.record("entry:create", case_id=case.id, classes=[info_class],
                 subject_ids=subjects.people_of(entry, case),
                 details={"entry_id": entry.id, "kind": entry.kind, "version": 1}, user=user)
    audit.commit()
    return entry


def edit_entry(user: User, case: Case, decision: CaseDecision, entry: Entry, data: dict) -> Entry:
    """A new version; the old ones stay (DOMAIN rule 7). A stale edit is refused."""
    if entry.author_agency_id != user.agency_id or not decision.can_write(entry.info_class):
        raise Forbidden("only the authoring agency may edit this entry")
    if entry.kind == "risk_assessment":  # its answers and score belong together
        raise Conflict("a risk assessment is not edited: record a new one", "version")
    if data["version"] != entry.version:
        raise Conflict("the entry was changed by someone else; reload and try again", "version")
    _check_kind(entry.kind, entry.info_class)
    location_guard.check_case(user, case, data["body"], field="body",
                              info_class=entry.info_class, kind=entry.kind,
                              restricted_to=entry.restricted_to, can_narrow=True)
    entry.version += 1
    write_version(case, entry, user, data["body"])
    audit.record("entry:edit", case_id=case.id, classes=[entry.info_class],
                 subject_ids=subjects.people_of(entry, case),
                 details={"entry_id": entry.id, "version": entry.version}, user=user)
    audit.commit()
    return entry


def _check_kind(kind: str, info_class: str) -> None:
    """A kind filed under a class it may not take reaches the wrong people (kinds.yaml)."""
    policy = current_policy()
    if kind not in policy.set.kinds:
        raise Invalid(f"unknown kind {kind!r}", "kind")
    if not policy.may_file(kind, info_class):
        allowed = ", ".join(c for c in policy.classes if policy.may_file(kind, c))
        raise Invalid(f"an entry of kind {kind} may not be filed as {info_class}; "
                      f"it may be filed as: {allowed}", "kind")


def write_version(case: Case, entry: Entry, author: User, body: str,
                  **structured) -> EntryVersion:
    """Store the entry's content as its current version, encrypted under the case key:
    its text, and the fields of a structured record (a risk assessment's answers)."""
    version = EntryVersion(entry_id=entry.id, version=entry.version, author_id=author.id)
    db.session.add(version)
    version.seal(case, {"body": body, **structured})
    db.session.flush()
    db.session.refresh(entry, ["versions"])
    return version


def _narrowing(user: User, agencies: list[str] | None) -> list[str] | None:
    """Narrowing can only take away: the author's own agency always keeps the entry.
    It names kinds of agency, as the policy does (a note for police is for every police
    agency on the team), and only kinds whose staff do casework."""
    if agencies is None:
        return None
    known = set(current_policy().casework_kinds())
    unknown = sorted(set(agencies) - known)
    if unknown:
        raise Invalid(f"unknown agencies: {', '.join(unknown)}; name kinds of agency: "
                      f"{', '.join(sorted(known))}", "restricted_to")
    return sorted(set(agencies) | {user.agency.kind})


def break_glass(user: User, case: Case, reason: str) -> BreakGlassGrant:
    """DOMAIN rule 4: time-limited access, a high-severity event, and a DPO alert."""
    minutes = current_app.config["HUB_BREAK_GLASS_MINUTES"]
    grant = BreakGlassGrant(case_id=case.id, user_id=user.id, reason=reason.strip(),
                            expires_at=utcnow() + timedelta(minutes=minutes))
    db.session.add(grant)
    db.session.flush()
    event = audit.record("case:break-glass", case_id=case.id, purpose="break-glass",
                         grant_id=grant.id, user=user,
                         details={"severity": "high", "expires_at": grant.expires_at.isoformat()})
    signals.break_glass_granted.send(grant, event=event)  # the DPO's alert (hub.dpo)
    audit.commit()
    return grant


# -- corrections of people's details ----------------------------------------------------
def correct_person(user: User, case: Case, decision: CaseDecision, person: Person,
                   data: dict) -> list[PersonChange]:
    """Correct a person's details, keeping what each change replaced (DOMAIN rule 7).

    Every field's class must be writable by the caller on this case; one refused field
    refuses the whole correction, so nothing is half-written.
    """
    party = next((p.party for p in case.parties if p.person_id == person.id), None)
    if party is None:
        raise Invalid("not a person in this case", "person_id")
    if person.erased_at is not None:
        raise Conflict("this person's data has been erased", "person_id")
    wanted = {k: v for k, v in data.items() if k != "version"}
    by_class = _fields_by_class(party, wanted, decision)
    if "version" in data and data["version"] != queries.person_version(person, decision):
        raise Conflict("these details were changed by someone else; reload and try again",
                       "version")
    changes = [_change(user, case, person, info_class, changed, wanted)
               for info_class, fields in sorted(by_class.items())
               if (changed := _differences(person, fields, wanted))]
    if changes:
        matching.index(case, person, party)
        audit.record("person:update", case_id=case.id, classes=[c.info_class for c in changes],
                     subject_ids=[person.id],
                     details={"person_id": person.id, "party": party,
                              "fields": sorted(f for c in changes for f in c.fields),
                              "change_ids": [c.id for c in changes]}, user=user)
        audit.commit()
    return changes


def _fields_by_class(party: str, wanted: dict, decision: CaseDecision) -> dict[str, list]:
    """Each field's class, refusing a field the party does not have or the caller may
    not write."""
    known, out = PERSON_FIELDS[party], {}
    for name in sorted(wanted):
        if name not in known:
            raise Invalid(f"a {party} has no {name} to correct", name)
        if not decision.can_write(known[name]):
            raise Forbidden(f"your agency may not change the {party}'s {name} on this case",
                            name)
        out.setdefault(known[name], []).append(name)
    return out


def _differences(person: Person, fields: list[str], wanted: dict) -> dict:
    """The fields whose value would change, with the values they have now."""
    return {name: person.detail(name) for name in fields
            if person.detail(name) != wanted[name]}


def _change(user: User, case: Case, person: Person, info_class: str, previous: dict,
            wanted: dict) -> PersonChange:
    """Record one class's correction with the values it replaces, then make it."""
    change = PersonChange(person=person, case_id=case.id, info_class=info_class,
                          fields=sorted(previous), changed_by_id=user.id,
                          agency_id=user.agency_id)
    db.session.add(change)
    db.session.flush()
    change.seal(previous)
    for name in previous:
        person.set_detail(name, wanted[name])
    return change


# -- the case team (issue 10) -------------------------------------------------------------
def remove_member(user: User, case: Case, membership: Membership) -> Membership:
    """Take a named user or a whole agency off the team. The row stays, marked removed, so
    the DPO can still see who was on the team when (DOMAIN rule 7)."""
    # Lock the case while counting, so two removals at once cannot both leave it empty.
    db.session.execute(select(Case.id).where(Case.id == case.id).with_for_update())
    if membership.case_id != case.id or membership.removed_at is not None:
        raise Conflict("not on this case's team now", "membership_id")
    others = [m for m in queries.active_members(case) if m.id != membership.id]
    if not others:
        raise Conflict("a case keeps at least one team member: add someone else first",
                       "membership_id")
    membership.removed_at, membership.removed_by_id = utcnow(), user.id
    details = {"member_user_id": membership.user_id} if membership.user_id is not None \
        else {"member_agency": membership.agency.code}
    audit.record("case:member:remove", case_id=case.id, classes=["case.core"],
                 details={**details, "membership_id": membership.id}, user=user)
    audit.commit()
    return membership
