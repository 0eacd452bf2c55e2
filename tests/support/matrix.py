"""Shared by the acceptance tests: an independent transcription of the access rules, the
seeded demo data, and helpers to sign in and to look for case data in a response.

The tables below are copied by hand from DOMAIN.md ("Default policy (London)"),
policies/areas/hampshire.yaml and policies/roles.yaml. They deliberately do not ask
hub.policy, so that a mistake in the policy files or the engine shows up as a failure.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from markupsafe import escape
from sqlalchemy import func, select

from hub.seed import CASES, ENTRIES, PENDING
from tests.support import factories

CLASSES = (
    "case.core", "perpetrator.identity", "perpetrator.offending", "intelligence", "clinical",
    "clinical.summary", "victim.identity", "victim.location", "victim.support", "legal",
    "legal.outcome", "orders", "supervision",
)

# DOMAIN.md, default policy: the classes each agency may READ in full.
READ = {
    "police": {"case.core", "perpetrator.identity", "perpetrator.offending", "intelligence",
               "clinical.summary", "victim.identity", "victim.location", "legal.outcome",
               "orders", "supervision"},
    "nhs": {"case.core", "perpetrator.identity", "perpetrator.offending", "clinical",
            "clinical.summary", "victim.identity", "legal.outcome", "orders", "supervision"},
    "probation": {"case.core", "perpetrator.identity", "perpetrator.offending",
                  "clinical.summary", "victim.identity", "legal.outcome", "orders",
                  "supervision"},
    "cps": {"case.core", "perpetrator.identity", "perpetrator.offending", "victim.identity",
            "legal", "legal.outcome", "orders"},
    "advocacy": {"case.core", "perpetrator.identity", "victim.identity", "victim.location",
                 "victim.support", "legal.outcome", "orders"},
}
# "R (safety plan only)": police read victim.support entries of this kind and no others.
PARTIAL = {("police", "victim.support"): {"safety_plan"}}
# DOMAIN.md, the classes each agency may WRITE.
WRITE = {
    "police": {"case.core", "perpetrator.identity", "perpetrator.offending", "intelligence",
               "victim.identity", "victim.location", "orders"},
    "nhs": {"clinical", "clinical.summary"},
    "probation": {"perpetrator.offending", "supervision"},
    "cps": {"legal", "legal.outcome", "orders"},
    "advocacy": {"case.core", "victim.identity", "victim.location", "victim.support"},
}
# policies/base.yaml, police-write-risk-answers (issue 14): officers record the victim's
# answers to S-DASH and DASH, which are hers (victim.support), and cannot read them back.
PARTIAL_WRITE = {("police", "victim.support"): {"risk_assessment"}}
# policies/base.yaml, closed-cases-read-only: a closed case is a record; only case.core stays
# writable (by the agencies that write it), so that the case can be reopened.
CLOSED_WRITABLE = {"case.core"}
# policies/areas/hampshire.yaml: Hampshire shares the clinical summary with police only.
AREA_DENIES = {"hampshire": {("probation", "clinical.summary")}, "london": set()}

# CONTRACT.md's demo users: username -> (agency, role, member of the demo cases).
USERS = {
    "police.officer": ("police", "officer", True),
    "police.supervisor": ("police", "supervisor", True),
    "nhs.clinician": ("nhs", "clinician", True),
    "probation.officer": ("probation", "probation_officer", True),
    "cps.prosecutor": ("cps", "prosecutor", True),
    "advocate": ("advocacy", "advocate", True),
    "outsider.officer": ("police", "officer", False),
    "coordinator": ("police", "coordinator", True),
    "dpo": ("hub", "dpo", False),
    "admin": ("hub", "admin", False),
}
MEMBERS = [u for u, (_a, _r, member) in USERS.items() if member]
NON_MEMBERS = [u for u, (_a, _r, member) in USERS.items() if not member]
PERPETRATOR_FACING = ("nhs.clinician", "probation.officer")

# policies/roles.yaml: what each demo user's role may do beyond reading and writing classes.
_WORKER = {"case:list", "entry:create"}
_CREATOR = _WORKER | {"case:create", "case:member:add"}
PERMISSIONS = {
    "police.officer": _CREATOR,
    "police.supervisor": _CREATOR | {"case:break-glass"},
    "nhs.clinician": _WORKER,
    "probation.officer": _WORKER,
    "cps.prosecutor": _WORKER,
    "advocate": _CREATOR,
    "outsider.officer": _CREATOR,
    "coordinator": _CREATOR | {"referral:screen"},
    "dpo": {"audit:read", "subject-access:read", "policy:read", "alert:review",
            "retention:erase"},
    "admin": {"admin:manage", "policy:read"},
}


def agency(username: str) -> str:
    return USERS[username][0]


def readable(username: str, area: str) -> set[str]:
    """Classes ``username`` may read in full on a case of ``area`` as a member."""
    who = agency(username)
    if not USERS[username][2]:
        return set()
    return {c for c in READ.get(who, set()) if (who, c) not in AREA_DENIES[area]}


def withheld(username: str, area: str) -> set[str]:
    return set(CLASSES) - readable(username, area)


def may_write(username: str, status: str, info_class: str) -> bool:
    """Whether ``username``, on the team of a case with ``status``, may write the class."""
    if not USERS[username][2] or info_class not in WRITE.get(agency(username), set()):
        return False
    return status != "closed" or info_class in CLOSED_WRITABLE


def entry_visible(username: str, area: str, info_class: str, kind: str,
                  restricted_to: list[str] | None) -> bool:
    who = agency(username)
    if restricted_to is not None and who not in restricted_to:
        return False
    if info_class in readable(username, area):
        return True
    return USERS[username][2] and kind in PARTIAL.get((who, info_class), set())


# -- the seeded demo data -----------------------------------------------------------------
VICTIM_LOCATIONS = [v[f] for spec in CASES for v in spec["victims"]
                    for f in ("address", "phone", "email", "workplace", "safe_contact")
                    if v.get(f)]
ENTRY_BODIES = [body for *_rest, body, _restricted in ENTRIES]


@dataclass
class DemoCase:
    id: int
    reference: str
    area: str
    summary: str
    perpetrator: tuple[int, str]
    victims: list[tuple[int, str]]
    entries: dict[int, tuple[str, str, list[str] | None, str]] = field(default_factory=dict)
    """entry id -> (class, kind, restricted_to, body)"""


def demo_cases(session) -> list[DemoCase]:
    """The five seeded cases with their people and entries, read from the database."""
    from hub.cases.models import Case, Entry

    out = []
    for spec in CASES:
        case = session.scalar(select(Case).where(Case.summary == spec["summary"]))
        perpetrator = case.people("perpetrator")[0]
        demo = DemoCase(case.id, case.reference, case.area.code, case.summary,
                        (perpetrator.id, perpetrator.name),
                        [(v.id, v.name) for v in case.people("victim")])
        for e in session.scalars(select(Entry).where(Entry.case_id == case.id)):
            demo.entries[e.id] = (e.info_class, e.kind, e.restricted_to,
                                  e.current.content(case)["body"])
        out.append(demo)
    return out


def pending_referral_ids() -> list[int]:
    """The seeded referrals waiting for screening: on the coordinator's team alone."""
    from hub.cases.models import Case
    from hub.extensions import db

    return list(db.session.scalars(select(Case.id).where(
        Case.summary.in_([spec["summary"] for spec in PENDING]))))


def case_data_strings(cases: list[DemoCase]) -> list[str]:
    """Strings that only a case's content can contain: names, locations, notes, refs."""
    strings = {*VICTIM_LOCATIONS, *ENTRY_BODIES}
    for c in cases:
        strings |= {c.reference, c.summary, c.perpetrator[1], *(n for _i, n in c.victims)}
    return sorted(strings)


def found(body: str, strings) -> list[str]:
    """Which of ``strings`` appear in ``body``, raw or HTML-escaped."""
    return [s for s in strings if s in body or str(escape(s)) in body]


def sign_in(client, username: str) -> None:
    """Sign a demo user all the way in (no code page)."""
    r = factories.sign_in(client, username)
    assert "/sign-in" not in r.location, (username, r.location)


ROW_TABLES = ("cases", "people", "case_parties", "entries", "entry_versions", "case_members",
              "break_glass_grants")


def row_counts(session, tables=ROW_TABLES) -> dict[str, int]:
    from hub.extensions import db

    meta = db.metadata.tables
    return {t: session.scalar(select(func.count()).select_from(meta[t])) for t in tables}
