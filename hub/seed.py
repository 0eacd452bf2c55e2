"""`hub seed-demo`: demo agencies, users and cases. Idempotent; clearly fictional data.

Phone numbers are from Ofcom's drama range (07700 900xxx), postcodes use the unused ZZ
district, and email addresses use example.org.
"""

from __future__ import annotations

from datetime import date

from flask import current_app
from sqlalchemy import select

from hub.accounts.models import Agency, Area, User
from hub.accounts.security import DEMO_PASSWORD, hash_password
from hub.auditlog import writer as audit
from hub.cases import casework, operations, queries, subjects
from hub.cases.models import Case, Entry, Membership, Referral
from hub.extensions import db
from hub.policy import Principal
from hub.timeutil import utcnow

USERS = [  # username, display name, agency, role, area, on the demo case teams
    ("police.officer", "PC Sam Ellery", "police", "officer", "london", True),
    ("police.supervisor", "Sgt Jo Marlow", "police", "supervisor", "london", True),
    ("nhs.clinician", "Dr Priya Nandra", "nhs", "clinician", "london", True),
    ("probation.officer", "Alex Quinlan", "probation", "probation_officer", "london", True),
    ("cps.prosecutor", "Morgan Hale", "cps", "prosecutor", "london", True),
    ("advocate", "Robin Castell", "advocacy", "advocate", "london", True),
    ("outsider.officer", "PC Lee Outram", "police", "officer", "london", False),
    ("coordinator", "Dana Whitlow (STAC coordinator)", "police", "coordinator", "london", True),
    ("dpo", "Chris Dalby (DPO)", "hub", "dpo", None, False),
    ("admin", "Pat Admin", "hub", "admin", None, False),
]

AREAS = {"london": "London", "hampshire": "Hampshire"}

CASES = [
    {"area": "london", "risk_level": "high", "status": "active", "referred_on": date(2026, 9, 2),
     "summary": "Ex-partner fixated after separation; repeated contact despite SPO.",
     "perpetrator": {"name": "Marcus Fenwick-Example", "date_of_birth": date(1984, 3, 14),
                     "aliases": ["Marc Fenn"], "pnc_id": "2004/0112233X",
                     "nhs_number": "9434765919", "address": "7 Sample Street, London N1 0ZZ"},
     "victims": [{"name": "Claire Example-Holt",
                  "address": "Flat 3, 12 Example Road, London E1 0ZZ",
                  "phone": "07700 900123", "email": "claire.holt@example.org",
                  "workplace": "Example Library, London EC1 0ZZ"}]},
    {"area": "london", "risk_level": "medium", "status": "accepted",
     "referred_on": date(2026, 10, 11),
     "summary": "Stranger stalking of a shop worker; online and in person.",
     "perpetrator": {"name": "Duncan Imaginary", "date_of_birth": date(1991, 7, 2),
                     "pnc_id": "2011/0456789K"},
     "victims": [{"name": "Amira Testwell", "address": "44 Placeholder Lane, London SE5 0ZZ",
                  "phone": "07700 900456"}]},
    {"area": "london", "risk_level": "high", "status": "screening",
     "referred_on": date(2026, 11, 3),
     "summary": "Former colleague; two victims (victim and her sister).",
     "perpetrator": {"name": "Gareth Notreal", "date_of_birth": date(1979, 12, 20)},
     "victims": [{"name": "Helen Fictitious", "address": "2 Demo Close, London W3 0ZZ",
                  "email": "helen@example.org"},
                 {"name": "Ruth Fictitious", "address": "9 Demo Close, London W3 0ZZ"}]},
    {"area": "hampshire", "risk_level": "medium", "status": "active",
     "referred_on": date(2026, 8, 19),
     "summary": "Neighbour dispute escalated to fixated stalking.",
     "perpetrator": {"name": "Trevor Madeup", "date_of_birth": date(1966, 5, 30),
                     "nhs_number": "9876543210"},
     "victims": [{"name": "Olu Sampleton", "address": "1 Mockup Row, Winchester SO23 0ZZ",
                  "phone": "07700 900789"}]},
    {"area": "hampshire", "risk_level": "standard", "status": "referred",
     "referred_on": date(2026, 11, 15),
     "summary": "Online harassment by an ex-partner, recently released on licence.",
     "perpetrator": {"name": "Kyle Nonesuch", "date_of_birth": date(1995, 1, 9),
                     "pnc_id": "2013/0998877M"},
     "victims": [{"name": "Jess Exampleford", "email": "jess@example.org",
                  "phone": "07700 900321"}]},
]

# How each demo case was referred (by its number), and the S-DASH "yes" answers the
# advocate gave at its first assessment: enough for the case's risk level.
REFERRALS = {
    1: {"source": "police", "relationship": "ex_intimate_partner",
        "crime_reference": "CAD 4412/02SEP26",
        "behaviours": ["calls", "messages", "following", "loitering", "threats"]},
    2: {"source": "helpline", "relationship": "stranger", "referrer_name": "Helpline caseworker",
        "behaviours": ["following", "loitering", "online"]},
    3: {"source": "advocacy", "relationship": "colleague",
        "behaviours": ["messages", "contacting_work", "threats"]},
    4: {"source": "police", "relationship": "neighbour", "behaviours": ["loitering", "damage"]},
    5: {"source": "probation", "relationship": "ex_intimate_partner",
        "behaviours": ["messages", "online"]},
}
SDASH_YES = {"high": ["frightened", "previous_abuse", "followed", "threatened_violence",
                      "third_parties", "drugs_alcohol_mental_health"],
             "medium": ["frightened", "followed", "turned_up"],
             "standard": ["frightened"]}

# Referrals waiting for the coordinator: from the Helpline, an anonymous online one, and
# one whose perpetrator (under another name) is already known by his PNC ID in case 1.
PENDING = [
    {"source": "helpline", "referrer_name": "National Stalking Helpline", "area": "london",
     "consent_to_referral": True, "consent_to_contact": True, "relationship": "acquaintance",
     "behaviours": ["calls", "messages", "unwanted_gifts"],
     "summary": "Helpline referral: gym acquaintance sending gifts and messages daily.",
     "victim": {"name": "Nadia Pretend", "phone": "07700 900654",
                "safe_contact": "Text first; no voicemail. Safe to call after 6pm."},
     "perpetrator": {"name": "Oscar Unreal", "date_of_birth": date(1988, 4, 22)}},
    {"source": "self", "area": "london", "consent_to_referral": True,
     "consent_to_contact": True, "relationship": "online_only",
     "behaviours": ["online", "messages", "threats"],
     "summary": "Self-referral: anonymous accounts posting about her and messaging threats.",
     "victim": {"name": "Bea Specimen", "email": "bea.specimen@example.org",
                "safe_contact": "Email only; do not phone."},
     "perpetrator": {"online_identifiers": ["@shadow_watcher_0", "throwaway.mail@example.org"]}},
    {"source": "police", "area": "london", "consent_to_referral": True,
     "consent_to_contact": True, "relationship": "ex_intimate_partner",
     "behaviours": ["calls", "following", "threats"], "crime_reference": "CAD 7781/20NOV26",
     "summary": "Police referral: a new partner's ex, already known to the STAC by his PNC ID.",
     "victim": {"name": "Lena Madeup", "phone": "07700 900777"},
     "perpetrator": {"name": "Marc Fenn", "pnc_id": "2004/0112233X"}},
]

# (author, kind, class, body, restricted_to) added to every demo case.
ENTRIES = [
    ("police.officer", "action", "case.core", "Police to serve SPO variation by Friday.", None),
    ("police.officer", "offending_history", "perpetrator.offending",
     "Two previous harassment convictions (2019, 2022); breach of restraining order 2023.", None),
    ("police.officer", "intelligence", "intelligence",
     "Intelligence suggests the perpetrator has bought a vehicle tracker online.", None),
    ("nhs.clinician", "intervention", "clinical",
     "Session 3: fixation remains high; rumination about reconciliation. Started CBT-based "
     "work on intrusive thoughts. Medication reviewed.", None),
    ("nhs.clinician", "note", "clinical.summary",
     "Risk-relevant summary: fixation persists; engaging with sessions; no current plan "
     "to approach the victim disclosed.", None),
    ("advocate", "safety_plan", "victim.support",
     "Safety plan agreed: panic alarm fitted, code word with employer, route to work varied.",
     None),
    ("advocate", "note", "victim.support",
     "Victim wishes to support prosecution; anxious about court. Referred to counselling.",
     None),
    ("cps.prosecutor", "legal_advice", "legal",
     "Privileged advice: evidence meets the threshold for s.2A stalking; consider s.4A.",
     None),
    ("cps.prosecutor", "charging_decision", "legal.outcome",
     "Charged with stalking (s.2A Protection from Harassment Act 1997).", None),
    ("police.officer", "order", "orders",
     "Stalking Protection Order: no contact with the victim; exclusion zone of 500 m around "
     "her home and workplace; no use of tracking devices.", None),
    ("police.officer", "breach", "orders", "Breach recorded: messages sent from a new account.",
     None),
    ("probation.officer", "supervision", "supervision",
     "Licence conditions reviewed; attends appointments; unemployed.", None),
    ("police.officer", "note", "intelligence",
     "Police-only: covert tactics under consideration.", ["police"]),
]


def seed_demo() -> dict[str, int]:
    """Create what is missing; change nothing that exists."""
    created = {"areas": 0, "agencies": 0, "users": 0, "cases": 0}
    for code, name in AREAS.items():
        created["areas"] += _ensure(Area, code=code, name=name)
    # One demo agency per kind in the policy, named after it: its code is its kind.
    for kind, spec in current_app.extensions["hub.policy"].set.agencies.items():
        created["agencies"] += _ensure(Agency, code=kind, name=spec["name"], kind=kind)
    db.session.flush()
    for username, display, agency, role, area, _member in USERS:
        if _by(User, username=username) is None:
            db.session.add(User(username=username, display_name=display,
                                agency=_by(Agency, code=agency),
                                area=_by(Area, code=area) if area else None, role=role,
                                password_hash=hash_password(DEMO_PASSWORD), is_demo=True))
            created["users"] += 1
    db.session.commit()
    for number, spec in enumerate(CASES, start=1):
        if _by(Case, summary=spec["summary"]) is None:
            _seed_case(spec, number)
            created["cases"] += 1
    for spec in PENDING:
        if _by(Case, summary=spec["summary"]) is None:
            casework.create_referral(_by(User, username="coordinator"), spec)
            created["cases"] += 1
    return created


def _seed_case(spec: dict, number: int) -> None:
    referrer = _by(User, username="police.officer")
    case = operations.create_case(referrer, spec)
    case.status = spec["status"]
    for username, *_rest, member in USERS:
        user = _by(User, username=username)
        if member and user.id != referrer.id:
            db.session.add(Membership(case=case, user_id=user.id, added_by_id=referrer.id))
    for username, kind, info_class, body, restricted in ENTRIES:
        author = _by(User, username=username)
        entry = Entry(case_id=case.id, kind=kind, info_class=info_class, author=author,
                      author_agency_id=author.agency_id, restricted_to=restricted,
                      subject_person_id=subjects.link(case, info_class, None))  # as notes are
        db.session.add(entry)
        db.session.flush()
        operations.write_version(case, entry, author, body)
    decided = case.status not in casework.OPEN_REFERRAL
    db.session.add(Referral(
        case_id=case.id, entered_by_id=referrer.id, agency_id=referrer.agency_id,
        referred_on=case.referred_on, consent_to_referral=True, consent_to_contact=True,
        perpetrator_named=True, decision="accept" if decided else None,
        decided_by_id=_by(User, username="coordinator").id if decided else None,
        decided_at=utcnow() if decided else None, **{("relation" if k == "relationship" else k): v
                                           for k, v in REFERRALS[number].items()}))
    audit.record("seed:demo", case_id=case.id, details={"demo_case": number})
    audit.commit()
    advocate = _by(User, username="advocate")
    yes = SDASH_YES[spec["risk_level"]]
    casework.add_risk_assessment(advocate, case, queries.decide(Principal.of(advocate), case), {
        "tool": "s-dash",
        "answers": {q.id: q.id in yes for q in casework.tools()["s-dash"].questions}})


def _by(model, **where):
    return db.session.scalar(select(model).filter_by(**where))


def _ensure(model, **values) -> int:
    key = {k: v for k, v in values.items() if k == "code"}
    if _by(model, **key) is not None:
        return 0
    db.session.add(model(**values))
    return 1
