"""Redaction, once, on the way out: every response about a case is built here.

Given the policy's decision, each builder emits only the fields of classes the caller may
read, lists what it withheld (DOMAIN rule 6), and notes which classes and people it
disclosed so the audit event can say so. Pages, JSON and exports all use these builders.
"""

from __future__ import annotations

from hub.cases import queries, subjects
from hub.cases.models import (
    ENCRYPTED_FIELDS,
    PERSON_FIELDS,
    Case,
    Entry,
    Person,
    PersonChange,
    Referral,
    RiskAssessment,
)
from hub.disclosure import Disclosure
from hub.policy import CaseDecision, current_policy

VICTIM_LOCATION_FIELDS = ENCRYPTED_FIELDS
LOCATION = "victim.location"


def withheld(decision: CaseDecision, holders: dict[str, set[str]]) -> list[dict]:
    """DOMAIN rule 6: each class not wholly readable, whether part of it is readable (a
    grant limited to some kinds of entry, as police's to safety plans), and the agencies
    that actually hold what is withheld on this case: nobody, if nothing is recorded."""
    return [{"class": c, "partly": _partly(decision, c), "ask": sorted(holders.get(c, ())),
             **({"kinds": sorted(decision.read[c].kinds)} if _partly(decision, c) else {})}
            for c in decision.withheld]


def holders(case: Case, decision: CaseDecision, entries: list[Entry],
            changes: dict[int, list[PersonChange]]) -> dict[str, set]:
    """Who holds, on this case, what the caller cannot see: the authors of the entries the
    class rules hide from them; for people's details, the referrer's agency and every
    agency that corrected them. Entries hidden by narrowing are counted apart (rule 5)."""
    out: dict[str, set[str]] = {}
    for e in entries:
        if not _class_allows(decision, e.info_class, e.kind):
            out.setdefault(e.info_class, set()).add(e.author_agency.code)
    hidden = [c for c in sorted(_person_classes(case)) if not decision.can_read(c)]
    referrer = queries.referrer_agency(case) if hidden else None  # asked only when needed
    for info_class in hidden if referrer else ():
        out.setdefault(info_class, set()).add(referrer)
    if not decision.can_read(LOCATION):
        # Whether a victim's address is on file is itself something about where she is:
        # those denied it are always told who keeps such details, never whether any exist.
        out[LOCATION] = set(current_policy().owners(LOCATION))
    for change in (c for person in changes.values() for c in person):
        if not decision.can_read(change.info_class):
            out.setdefault(change.info_class, set()).add(change.agency.code)
    return out


def _partly(decision: CaseDecision, info_class: str) -> bool:
    grant = decision.read.get(info_class)
    return grant is not None and grant.kinds is not None


def _class_allows(decision: CaseDecision, info_class: str, kind: str) -> bool:
    grant = decision.read.get(info_class)
    return grant is not None and (grant.kinds is None or kind in grant.kinds)


def _person_classes(case: Case) -> set[str]:
    """Classes of what the case record itself holds about the case and its people."""
    found = {"case.core"}
    if case.people("perpetrator"):
        found.add("perpetrator.identity")
    victims = case.people("victim")
    if victims:
        found.add("victim.identity")
    if any(getattr(v, f"{f}_ct") for v in victims for f in VICTIM_LOCATION_FIELDS):
        found.add("victim.location")
    return found


def case_summary(case: Case, decision: CaseDecision, out: Disclosure) -> dict:
    """A case as a list or search result."""
    item: dict = {"id": case.id}
    if decision.can_read("case.core"):
        out.add("case.core")
        item.update(reference=case.reference, status=case.status, risk_level=case.risk_level,
                    area=case.area.code, referred_on=case.referred_on.isoformat())
    perpetrator = next(iter(case.people("perpetrator")), None)
    if perpetrator is not None and decision.can_read("perpetrator.identity"):
        out.add("perpetrator.identity", perpetrator)
        item["perpetrator"] = {"id": perpetrator.id, "name": perpetrator.name}
    return item


def case_detail(case: Case, decision: CaseDecision, entries: list[Entry],
                agency: str, out: Disclosure, *, kind: str | None = None) -> dict:
    """The whole case as the caller may see it; ``kind`` keeps only entries of that kind."""
    changes = queries.person_changes(case)
    body = case_summary(case, decision, out)
    body["access"] = decision.relationship.value if decision.relationship else None
    if decision.can_read("case.core"):
        body.update(summary=case.summary, version=case.version,
                    accepted_on=_iso(case.accepted_on), closed_on=_iso(case.closed_on),
                    next_review_on=_iso(case.next_review_on),
                    team=[_member(m) for m in case.members if m.removed_at is None])
    perpetrator = next(iter(case.people("perpetrator")), None)
    if perpetrator is not None and decision.can_read("perpetrator.identity"):
        body["perpetrator"] = _perpetrator(perpetrator, decision, changes, out)
    if decision.can_read("victim.identity"):
        body["victims"] = [_victim(v, decision, changes, out) for v in case.people("victim")]
    if decision.can_read("case.core"):
        body["referral"] = referral_out(queries.referral(case), out)
        body["status_history"] = [
            {"status": s.status, "at": s.changed_at.isoformat(), "agency": s.agency.code,
             "reason": s.reason} for s in queries.status_history(case)]
        body["risk_assessments"] = [
            assessment_out(a, case, decision, entries, agency, out)
            for a in queries.risk_assessments(case)]
    shown = [e for e in visible(entries, decision, agency) if kind is None or e.kind == kind]
    body["entries"] = [entry_out(e, case, out) for e in shown]
    body["withheld"] = list(decision.withheld)
    body["partly_withheld"] = [c for c in decision.withheld if _partly(decision, c)]
    body["withheld_detail"] = withheld(decision, holders(case, decision, entries, changes))
    body["narrowed_entries"] = _narrowed(entries, decision, agency)
    return body


def overview(case: Case, decision: CaseDecision, entries: list[Entry], agency: str,
             out: Disclosure, risk_set: tuple) -> dict:
    """The summary at the top of the case page: what a busy officer needs first. Counts
    and dates come only from entries the caller may read."""
    if not decision.can_read("case.core"):
        return {}
    readable = visible(entries, decision, agency)
    orders = [e for e in readable if e.kind in ("order", "breach")]
    actions = [e for e in readable if e.kind == "action"]
    contacts = [e for e in readable if e.info_class == "victim.support"
                and e.kind != "risk_assessment"]
    assessed = [e for e in readable if e.kind == "risk_assessment"]
    for e in (*orders, *actions, *contacts, *assessed):
        out.add(e.info_class)
    risk_at, risk_by = risk_set
    latest = max(assessed, key=lambda e: e.created_at, default=None)
    if latest is not None and latest.created_at > risk_at:
        risk_at, risk_by = latest.created_at, latest.author_agency.code
    return {"status": case.status, "risk_level": case.risk_level,
            "risk_set_at": risk_at.isoformat(), "risk_set_by": risk_by,
            "next_review_on": _iso(case.next_review_on), "version": case.version,
            "orders": sum(e.kind == "order" for e in orders),
            "breaches": sum(e.kind == "breach" for e in orders),
            "open_actions": len(actions),
            "last_contact": _iso(max((e.created_at for e in contacts), default=None)),
            "reads_orders": "orders" in decision.read,
            "reads_support": "victim.support" in decision.read}


def entry_list(case: Case, decision: CaseDecision, entries: list[Entry], agency: str,
               out: Disclosure) -> dict:
    return {"items": [entry_out(e, case, out) for e in visible(entries, decision, agency)],
            "withheld": list(decision.withheld),
            "narrowed_entries": _narrowed(entries, decision, agency)}


def visible(entries: list[Entry], decision: CaseDecision, agency: str) -> list[Entry]:
    """The entries ``agency`` (a kind) may read: class, kind and the author's narrowing."""
    return [e for e in entries
            if decision.can_read_entry(e.info_class, e.kind, e.restricted_to, agency)]


def entry_out(entry: Entry, case: Case, out: Disclosure) -> dict:
    out.add(entry.info_class)
    out.add_people(subjects.people_of(entry, case))  # named, or whom its class is about
    current = entry.current
    return {"id": entry.id, "kind": entry.kind, "class": entry.info_class,
            "body": current.content(case).get("body", ""), "version": entry.version,
            "author": entry.author.display_name, "agency": entry.author_agency.code,
            "restricted_to": entry.restricted_to, "created_at": entry.created_at.isoformat(),
            "updated_at": current.created_at.isoformat()}


def _narrowed(entries: list[Entry], decision: CaseDecision, agency: str) -> int:
    """Entries of readable classes hidden by their author's narrowing (rule 5 and 6)."""
    return sum(1 for e in entries
               if decision.can_read_entry(e.info_class, e.kind, None, agency)
               and not decision.can_read_entry(e.info_class, e.kind, e.restricted_to, agency))


def _perpetrator(p: Person, decision: CaseDecision, changes: dict, out: Disclosure) -> dict:
    out.add("perpetrator.identity", p)
    return {"id": p.id, "name": p.name, "date_of_birth": _iso(p.date_of_birth),
            "aliases": p.aliases or [], "online_identifiers": p.online_identifiers or [],
            "pnc_id": p.pnc_id, "nhs_number": p.nhs_number,
            "address": p.get_secret("address"),
            **_history(p, changes[p.id], decision, out)}


def _victim(v: Person, decision: CaseDecision, changes: dict, out: Disclosure) -> dict:
    out.add("victim.identity", v)
    item = {"id": v.id, "name": v.name, "date_of_birth": _iso(v.date_of_birth)}
    if decision.can_read("victim.location"):
        out.add("victim.location", v)
        item.update({f: v.get_secret(f) for f in VICTIM_LOCATION_FIELDS})
    return item | _history(v, changes[v.id], decision, out)


def _history(person: Person, changes, decision: CaseDecision, out: Disclosure) -> dict:
    """Corrections of the person in classes the caller may read, oldest first, with the
    values they replaced; ``version`` counts them, for a stale correction to be refused."""
    rows = []
    for c in changes:
        if decision.can_read(c.info_class):
            out.add(c.info_class, person)
            rows.append({"at": c.changed_at.isoformat(), "agency": c.agency.code,
                         "class": c.info_class, "fields": list(c.fields),
                         "previous": c.previous()})
    return {"history": rows, "version": len(rows)}


def _member(m) -> dict:
    if m.user is not None:
        return {"type": "user", "username": m.user.username, "name": m.user.display_name,
                "agency": m.user.agency.code, "role": m.user.role,
                "added_at": m.added_at.isoformat()}
    return {"type": "agency", "agency": m.agency.code, "name": m.agency.name,
            "added_at": m.added_at.isoformat()}


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None


def correction_form(person: Person, party: str, names: list[str], decision: CaseDecision,
                    out: Disclosure) -> dict:
    """A person's details as a correction form shows them: only the fields named, each of
    a class the caller may read. ``version`` is the one the case page gives."""
    values: dict = {}
    for name in names:
        info_class = PERSON_FIELDS[party][name]
        if decision.can_read(info_class):
            out.add(info_class, person)
            values[name] = person.detail(name)
    values["version"] = queries.person_version(person, decision)
    return values


# -- casework: referral and risk assessments (issue 14) ------------------------------------
def referral_out(referral: Referral | None, out: Disclosure) -> dict | None:
    """How the case came to the STAC and what screening decided: all case.core (the
    victim's safe contact instructions are among her details, the perpetrator's online
    identifiers among his). The caller may read case.core."""
    if referral is None:
        return None
    out.add("case.core")
    return {"id": referral.id, "source": referral.source,
            "referrer_name": referral.referrer_name, "agency": referral.agency.code,
            "referred_on": _iso(referral.referred_on),
            "crime_reference": referral.crime_reference,
            "consent_to_referral": referral.consent_to_referral,
            "consent_to_contact": referral.consent_to_contact,
            "relationship": referral.relation, "behaviours": list(referral.behaviours),
            "behaviours_other": referral.behaviours_other,
            "perpetrator_named": referral.perpetrator_named, "decision": referral.decision,
            "decision_reason": referral.decision_reason,
            "decided_at": _iso(referral.decided_at)}


def assessment_out(assessment: RiskAssessment, case: Case, decision: CaseDecision,
                   entries: list, agency: str, out: Disclosure) -> dict:
    """One risk assessment: its score and levels (case.core, which the caller reads), then
    each part held in an entry of its own class only if the caller may read that entry:
    the override reason, the answers (victim.support or clinical) and a clinical tool's
    shared summary. A part the caller may not read is named, never shown."""
    by_id = {e.id: e for e in entries}
    out.add("case.core")
    row = {"id": assessment.id, "tool": assessment.tool, "score": assessment.score,
           "suggested_level": assessment.suggested_level, "level": assessment.level,
           "review_on": _iso(assessment.review_on),
           "assessed_at": assessment.assessed_at.isoformat(),
           "assessor": assessment.assessor.display_name, "agency": assessment.agency.code,
           "withheld": []}
    parts = (("override_reason", assessment.core_entry_id, "override_reason"),
             ("answers", assessment.answers_entry_id, "answers"),
             ("shared_summary", assessment.summary_entry_id, "body"))
    for name, entry_id, key in parts:
        entry = by_id.get(entry_id)
        if entry is None:
            continue
        if decision.can_read_entry(entry.info_class, entry.kind, entry.restricted_to, agency):
            out.add(entry.info_class)
            out.add_people(subjects.people_of(entry, case))
            row[name] = entry.current.content(case).get(key)
        else:
            row["withheld"].append({"part": name, "class": entry.info_class})
    return row
