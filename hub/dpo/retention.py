"""Retention and erasure. Erasure is crypto-shredding: the person's data key is destroyed,
their identifiers nulled, entries about them emptied and break-glass reasons on their cases
blanked. The audit log is never touched: it holds ids, not personal data."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import yaml
from sqlalchemy import select
from sqlalchemy.orm import selectinload

from hub.auditlog import writer as audit
from hub.cases import matching, subjects
from hub.cases.models import (
    ENCRYPTED_FIELDS,
    BreakGlassGrant,
    CaseParty,
    Entry,
    EntryVersion,
    Person,
)
from hub.dpo.models import Erasure
from hub.errors import Conflict
from hub.extensions import db
from hub.timeutil import utcnow

SCHEDULE_FILE = Path(__file__).with_name("retention.yaml")
BLANKED = ""


def schedule(path: Path = SCHEDULE_FILE) -> dict:
    return yaml.safe_load(path.read_text())


def years(plan: dict, area: str, info_class: str) -> int:
    return int(plan.get("areas", {}).get(area, {}).get(info_class,
                                                        plan["default"][info_class]))


def review_queue(today: date | None = None, plan: dict | None = None) -> list[dict]:
    """People due for review: every case closed and the retention period passed."""
    today, plan = today or utcnow().date(), plan or schedule()
    people: dict[int, dict] = {}
    for party in db.session.scalars(select(CaseParty).options(selectinload(CaseParty.case))):
        row = people.setdefault(party.person_id, {"person_id": party.person_id,
                                                  "case_ids": [], "due_on": date.min})
        row["case_ids"].append(party.case_id)
        case = party.case
        if case.closed_on is None:
            row["due_on"] = None
        elif row["due_on"] is not None:
            identity = f"{party.party}.identity"
            due = _add_years(case.closed_on, years(plan, case.area.code, identity))
            row["due_on"] = max(row["due_on"], due)
    erased = set(db.session.scalars(select(Person.id).where(Person.erased_at.is_not(None))))
    return sorted((r for r in people.values() if r["due_on"] and r["due_on"] <= today
                   and r["person_id"] not in erased), key=lambda r: r["due_on"])


def _add_years(day: date, count: int) -> date:
    try:
        return day.replace(year=day.year + count)
    except ValueError:  # 29 February
        return day.replace(year=day.year + count, day=28)


def erase(person: Person, user, ground: str) -> Erasure:
    """Destroy the person's data in one transaction with its audit event."""
    if person.erased_at is not None:
        raise Conflict("this person's data was already erased", "confirm")
    now, what = utcnow(), _classes_held(person)
    person.data_key.wrapped, person.data_key.destroyed_at = None, now
    person.name, person.date_of_birth, person.aliases = None, None, []
    person.online_identifiers = []
    person.pnc_id = person.nhs_number = None
    for name in ENCRYPTED_FIELDS:
        setattr(person, f"{name}_ct", None)
    person.erased_at = now
    matching.forget(person.id)
    _empty_entries(person.id)
    _blank_reasons(person.id)
    erasure = Erasure(person_id=person.id, at=now, by_user_id=user.id, ground=ground,
                      what=sorted(what))
    db.session.add(erasure)
    db.session.flush()
    audit.record("person:erase", subject_ids=[person.id], classes=what, purpose=ground,
                 details={"erasure_id": erasure.id, "person_id": person.id}, user=user)
    audit.commit()
    return erasure


def _classes_held(person: Person) -> set[str]:
    parties = {p.party for p in db.session.scalars(
        select(CaseParty).where(CaseParty.person_id == person.id))}
    what = {f"{p}.identity" for p in parties}
    if any(getattr(person, f"{n}_ct") for n in ENCRYPTED_FIELDS):
        what.add("victim.location" if "victim" in parties else "perpetrator.identity")
    what.update(e.info_class for e in db.session.scalars(subjects.entries_about(person.id)))
    return what


def _empty_entries(person_id: int) -> None:
    """Every version of every entry about the person loses its content.

    Entry content is sealed under the case's key, which the case's other people still
    need, so it cannot be shredded by a key: the ciphertext itself is removed. The audit
    log never held it (events carry ids), so the log still verifies.
    """
    entry_ids = subjects.entries_about(person_id).with_only_columns(Entry.id).order_by(None)
    for version in db.session.scalars(select(EntryVersion).where(
            EntryVersion.entry_id.in_(entry_ids))):
        version.content_ct = None


def _blank_reasons(person_id: int) -> None:
    """A break-glass reason is free text that may name anyone in the case."""
    case_ids = select(CaseParty.case_id).where(CaseParty.person_id == person_id)
    for grant in db.session.scalars(select(BreakGlassGrant).where(
            BreakGlassGrant.case_id.in_(case_ids))):
        grant.reason = BLANKED


def erasures(person_id: int) -> list[dict]:
    rows = db.session.scalars(select(Erasure).where(Erasure.person_id == person_id)
                              .order_by(Erasure.id))
    return [{"at": e.at.isoformat(), "ground": e.ground, "what": e.what} for e in rows]
