"""Already known? Whether a case's perpetrator or victims appear in another case of its
area (DOMAIN "Casework" 2), compared by keyed hash so that nothing is decrypted.

Each person's identifiers are normalised (PNC ID, NHS number, name with date of birth,
online identifiers, phone, email) and stored as HMAC-SHA256 digests under a key derived
from the master key (``PersonKey``, ``Keyring.match_digest``). A match reveals only what
the controlled answer says: the other case's reference, area, the agencies on its team,
whether it is open, and what matched. Each answer given is an audit event on the other
case, naming the case it was asked from, so that case's team and its DPO can see who
learnt of it. A victim's phone and email are her location: a match on them is named as
"contact details" and only to someone who may read her location on their own case.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import delete, select

from hub.accounts.models import Agency, User
from hub.auditlog import writer as audit
from hub.cases.models import Case, Membership, Person, PersonKey
from hub.extensions import db

LOCATION_KINDS = frozenset({"phone", "email"})
KIND_WORDS = {"pnc": "PNC ID", "nhs": "NHS number", "name_dob": "name and date of birth",
              "online": "online identifier", "phone": "contact details",
              "email": "contact details"}


def identifiers(person: Person) -> set[tuple[str, str]]:
    """The person's identifiers, normalised: (kind, value) pairs."""
    found: set[tuple[str, str]] = set()
    if person.pnc_id:
        found.add(("pnc", re.sub(r"\s", "", person.pnc_id).upper()))
    if person.nhs_number:
        found.add(("nhs", re.sub(r"\D", "", person.nhs_number)))
    if person.name and person.date_of_birth:
        found.add(("name_dob", f"{_name(person.name)}|{person.date_of_birth.isoformat()}"))
    for handle in person.online_identifiers or ():
        found.add(("online", handle.strip().lower().lstrip("@")))
    phone = re.sub(r"\D", "", person.get_secret("phone") or "")
    if phone:
        found.add(("phone", "0" + phone[2:] if phone.startswith("44") else phone))
    email = (person.get_secret("email") or "").strip().lower()
    if email:
        found.add(("email", email))
    return found


def _name(name: str) -> str:
    """Lower case, accents and punctuation gone, spaces collapsed: "O'Brien-Smith" and
    "obrien smith" compare equal."""
    plain = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return " ".join(re.sub(r"[^a-z ]", "", plain.lower().replace("-", " ")).split())


def index(case: Case, person: Person, party: str) -> None:
    """(Re)write the person's keys in this case; an erased person has none."""
    db.session.execute(delete(PersonKey).where(PersonKey.person_id == person.id,
                                               PersonKey.case_id == case.id))
    if person.erased_at is not None:
        return
    keyring = current_app.extensions["hub.keyring"]
    db.session.add_all(PersonKey(person_id=person.id, case_id=case.id, party=party, kind=kind,
                                 digest=keyring.match_digest(kind, value))
                       for kind, value in sorted(identifiers(person)))


def forget(person_id: int) -> None:
    """Erasure: the person can no longer be matched anywhere."""
    db.session.execute(delete(PersonKey).where(PersonKey.person_id == person_id))


@dataclass(frozen=True)
class Match:
    case_id: int
    reference: str
    area: str
    open: bool
    known_to: tuple[str, ...]  #: agencies on the other case's team
    matched: tuple[str, ...]  #: what matched, in words ("PNC ID", "perpetrator")


def matches(case: Case, *, sees_location: bool) -> list[Match]:
    """Other cases of the case's area sharing an identifier with one of its people."""
    mine = {(k.digest, k.party) for k in db.session.scalars(
        select(PersonKey).where(PersonKey.case_id == case.id))}
    if not mine:
        return []
    rows = db.session.execute(
        select(PersonKey.case_id, PersonKey.kind, PersonKey.party, PersonKey.digest)
        .join(Case, Case.id == PersonKey.case_id)
        .where(PersonKey.digest.in_({d for d, _p in mine}), PersonKey.case_id != case.id,
               Case.area_id == case.area_id)).all()
    found: dict[int, set[str]] = {}
    for other, kind, party, _digest in rows:
        shown = kind if kind not in LOCATION_KINDS or sees_location else None
        words = f"{party}: {KIND_WORDS[kind]}" if shown else f"{party}"
        found.setdefault(other, set()).add(words)
    cases = {c.id: c for c in db.session.scalars(select(Case).where(Case.id.in_(found)))}
    return [Match(c.id, c.reference, c.area.code, c.status != "closed", _team(c.id),
                  tuple(sorted(found[c.id]))) for c in sorted(cases.values(), key=lambda c: c.id)]


def _team(case_id: int) -> tuple[str, ...]:
    agencies = set(db.session.scalars(
        select(Agency.code).join(Membership, Membership.agency_id == Agency.id)
        .where(Membership.case_id == case_id, Membership.removed_at.is_(None))))
    agencies |= set(db.session.scalars(
        select(Agency.code).join(User, User.agency_id == Agency.id)
        .join(Membership, Membership.user_id == User.id)
        .where(Membership.case_id == case_id, Membership.removed_at.is_(None))))
    return tuple(sorted(agencies))


def answer(case: Case, decision) -> list[Match]:
    """The matches as the caller may be told them, each recorded before it is given."""
    found = matches(case, sees_location=decision.can_read("victim.location"))
    record_answer(case, found)
    return found


def record_answer(case: Case, found: list[Match]) -> None:
    """Each match shown is an audit event on the other case, naming this one."""
    for match in found:
        audit.record("case:match", case_id=match.case_id, classes=["case.core"],
                     details={"checking_case_id": case.id, "matched": list(match.matched)})
    audit.record("case:match-check", case_id=case.id, classes=["case.core"],
                 details={"matched_case_ids": [m.case_id for m in found]})
    audit.commit()
