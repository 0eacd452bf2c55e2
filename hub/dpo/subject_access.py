"""A subject access bundle: what the hub holds about a person and who consulted it.

The bundle is the one place a DPO sees a person's data, because answering the request is
the purpose; generating it is itself audited. Classes the DPO exempts (for example police
intelligence, DPA 2018 s.45(4)) are withheld and listed with the reason. Older versions of
a rectified entry stay in the bundle, marked as corrected.
"""

from __future__ import annotations

from sqlalchemy import select

from hub.auditlog.models import AuditEvent, AuditSubject
from hub.cases import subjects
from hub.cases.models import ENCRYPTED_FIELDS, Case, CaseParty, Entry, Person, Referral
from hub.crypto import KeyDestroyed
from hub.dpo import retention
from hub.dpo.models import Exemption
from hub.extensions import db

DISCLOSING_OUTCOME = "allowed"
LOCATION_FIELDS = ENCRYPTED_FIELDS  # address, phone, email, workplace, safe contact


def bundle(person_id: int) -> dict | None:
    person = db.session.get(Person, person_id)
    if person is None:
        return None
    parties = db.session.scalars(select(CaseParty).where(CaseParty.person_id == person_id)).all()
    exemptions = exemptions_for(person_id)
    data, classes = _data(person, parties, {x["class"] for x in exemptions})
    return {"person": {"id": person.id, "erased_at": _iso(person.erased_at)},
            "data": data, "disclosures": disclosures(person_id),
            "erasures": retention.erasures(person_id), "exemptions": exemptions,
            "classes": classes}


def _data(person: Person, parties, exempt: set[str]) -> tuple[dict, set[str]]:
    identity = "victim.identity" if any(p.party == "victim" for p in parties) \
        else "perpetrator.identity"
    data = {identity: {"name": person.name, "date_of_birth": _iso(person.date_of_birth),
                       "aliases": person.aliases or [],
                       "online_identifiers": person.online_identifiers or [],
                       "pnc_id": person.pnc_id, "nhs_number": person.nhs_number},
            "cases": [{"case_id": p.case.id, "reference": p.case.reference, "party": p.party,
                       "referral": _referral(p.case_id)} for p in parties]}
    classes = {identity}
    location = _location(person)
    if location:
        location_class = "victim.location" if identity == "victim.identity" else identity
        data.setdefault(location_class, {}).update(location)
        classes.add(location_class)
    entries = db.session.scalars(subjects.entries_about(person.id)).all()
    data["entries"] = [_entry(e) for e in entries if e.info_class not in exempt]
    classes.update(e.info_class for e in entries)
    for name in exempt:
        data.pop(name, None)
    classes -= exempt
    return data, classes


def _referral(case_id: int) -> dict | None:
    """How the person's case was referred (case.core, about everyone in the case)."""
    found = db.session.scalar(select(Referral).where(Referral.case_id == case_id))
    if found is None:
        return None
    return {"source": found.source, "referrer_name": found.referrer_name,
            "referred_on": _iso(found.referred_on), "crime_reference": found.crime_reference,
            "consent_to_referral": found.consent_to_referral,
            "consent_to_contact": found.consent_to_contact, "relationship": found.relation,
            "behaviours": list(found.behaviours), "behaviours_other": found.behaviours_other,
            "decision": found.decision, "decision_reason": found.decision_reason}


def _location(person: Person) -> dict:
    try:
        values = {f: person.get_secret(f) for f in LOCATION_FIELDS}
    except KeyDestroyed:
        return {}
    return values if any(values.values()) else {}


def _entry(entry: Entry) -> dict:
    owner = db.session.get(Case, entry.case_id)
    latest = entry.versions[-1].version if entry.versions else None
    return {"id": entry.id, "class": entry.info_class, "kind": entry.kind,
            "versions": [{"version": v.version, "at": v.created_at.isoformat(),
                          "corrected": v.version != latest,
                          "content": _content(v, owner)} for v in entry.versions]}


def _content(version, owner: Case) -> dict | None:
    """None once erased: the ciphertext was removed with the person's data."""
    return version.content(owner) if version.content_ct is not None else None


def disclosures(person_id: int) -> list[dict]:
    """Section 62 logs: every consultation or disclosure of the person's data."""
    events = db.session.scalars(
        select(AuditEvent).where(AuditEvent.seq.in_(
            select(AuditSubject.seq).where(AuditSubject.person_id == person_id)),
            AuditEvent.outcome == DISCLOSING_OUTCOME)
        .order_by(AuditEvent.seq)).all()
    return [{"seq": e.seq, "at": e.at.isoformat(), "username": e.username, "agency": e.agency,
             "role": e.role, "action": e.action, "classes": e.classes,
             "purpose": e.purpose, "case_id": e.case_id} for e in events]


def exemptions_for(person_id: int) -> list[dict]:
    rows = db.session.scalars(select(Exemption).where(Exemption.person_id == person_id)
                              .order_by(Exemption.id))
    return [{"id": x.id, "class": x.info_class, "reason": x.reason,
             "applied_at": x.applied_at.isoformat()} for x in rows]


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None
