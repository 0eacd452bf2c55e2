"""A subject access bundle: what the hub holds about a person and who consulted it.

The bundle is the one place a DPO sees a person's data, because answering the request is
the purpose; generating it is itself audited.
"""

from __future__ import annotations

from sqlalchemy import select

from hub.auditlog.models import AuditEvent, AuditSubject
from hub.cases.models import Case, CaseParty, Entry, Person
from hub.crypto import KeyDestroyed
from hub.extensions import db

DISCLOSING_OUTCOME = "allowed"


def bundle(person_id: int) -> dict | None:
    person = db.session.get(Person, person_id)
    if person is None:
        return None
    parties = db.session.scalars(select(CaseParty).where(CaseParty.person_id == person_id)).all()
    data, classes = _data(person, parties)
    return {"person": {"id": person.id, "erased_at": _iso(person.erased_at)},
            "data": data, "disclosures": _disclosures(person_id),
            "erasures": [{"at": person.erased_at.isoformat(), "what": "all personal data"}]
            if person.erased_at else [],
            "classes": classes}


def _data(person: Person, parties) -> tuple[dict, set[str]]:
    identity = "victim.identity" if any(p.party == "victim" for p in parties) \
        else "perpetrator.identity"
    classes = {identity}
    data = {identity: {"name": person.name, "date_of_birth": _iso(person.date_of_birth),
                       "aliases": person.aliases or [], "pnc_id": person.pnc_id,
                       "nhs_number": person.nhs_number},
            "cases": [{"case_id": p.case.id, "reference": p.case.reference, "party": p.party}
                      for p in parties]}
    try:
        location = {f: person.get_secret(f) for f in ("address", "phone", "email", "workplace")}
    except KeyDestroyed:
        location = None
    if location and any(location.values()):
        location_class = "victim.location" if identity == "victim.identity" else identity
        data.setdefault(location_class, {}).update(location)
        classes.add(location_class)
    entries = db.session.scalars(select(Entry).where(Entry.subject_person_id == person.id)).all()
    data["entries"] = [_entry(e) for e in entries]
    classes.update(e.info_class for e in entries)
    return data, classes


def _entry(entry: Entry) -> dict:
    owner = db.session.get(Case, entry.case_id)
    return {"id": entry.id, "class": entry.info_class, "kind": entry.kind,
            "versions": [{"version": v.version, "at": v.created_at.isoformat(),
                          "content": v.content(owner)} for v in entry.versions]}


def _disclosures(person_id: int) -> list[dict]:
    """Section 62 logs: every consultation or disclosure of the person's data."""
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.seq.in_(
            select(AuditSubject.seq).where(AuditSubject.person_id == person_id)),
            AuditEvent.outcome == DISCLOSING_OUTCOME)
        .order_by(AuditEvent.seq)).all()
    return [{"seq": e.seq, "at": e.at.isoformat(), "username": e.username, "agency": e.agency,
             "role": e.role, "action": e.action, "classes": e.classes,
             "purpose": e.purpose, "case_id": e.case_id} for e in events]


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None
