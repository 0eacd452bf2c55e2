"""Redaction, once, on the way out: every response about a case is built here.

Given the policy's decision, each builder emits only the fields of classes the caller may
read, lists what it withheld (DOMAIN rule 6), and notes which classes and people it
disclosed so the audit event can say so. Pages, JSON and exports all use these builders.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from hub.cases.models import Case, Entry, Person
from hub.policy import CaseDecision, current_policy

VICTIM_LOCATION_FIELDS = ("address", "phone", "email", "workplace")


@dataclass
class Disclosure:
    """What a response revealed: the audit event's ``classes`` and ``subject_ids``."""

    classes: set[str] = field(default_factory=set)
    subject_ids: set[int] = field(default_factory=set)

    def add(self, info_class: str, person: Person | None = None) -> None:
        self.classes.add(info_class)
        if person is not None:
            self.subject_ids.add(person.id)


def withheld(decision: CaseDecision) -> list[dict]:
    policy = current_policy()
    return [{"class": c, "ask": policy.owners(c)} for c in decision.withheld]


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
                agency: str, out: Disclosure) -> dict:
    """The whole case as the caller may see it."""
    body = case_summary(case, decision, out)
    body["access"] = decision.relationship.value if decision.relationship else None
    if decision.can_read("case.core"):
        body.update(summary=case.summary, version=case.version,
                    accepted_on=_iso(case.accepted_on), closed_on=_iso(case.closed_on),
                    next_review_on=_iso(case.next_review_on),
                    team=[_member(m) for m in case.members if m.removed_at is None])
    perpetrator = next(iter(case.people("perpetrator")), None)
    if perpetrator is not None and decision.can_read("perpetrator.identity"):
        body["perpetrator"] = _perpetrator(perpetrator)
    if decision.can_read("victim.identity"):
        body["victims"] = [_victim(v, decision, out) for v in case.people("victim")]
    visible = [e for e in entries
               if decision.can_read_entry(e.info_class, e.kind, e.restricted_to, agency)]
    body["entries"] = [entry_out(e, case, out) for e in visible]
    body["withheld"] = list(decision.withheld)
    body["withheld_detail"] = withheld(decision)
    body["narrowed_entries"] = _narrowed(entries, decision, agency)
    return body


def entry_list(case: Case, decision: CaseDecision, entries: list[Entry], agency: str,
               out: Disclosure) -> dict:
    visible = [e for e in entries
               if decision.can_read_entry(e.info_class, e.kind, e.restricted_to, agency)]
    return {"items": [entry_out(e, case, out) for e in visible],
            "withheld": list(decision.withheld),
            "narrowed_entries": _narrowed(entries, decision, agency)}


def entry_out(entry: Entry, case: Case, out: Disclosure) -> dict:
    out.add(entry.info_class)
    if entry.subject_person_id is not None:
        out.subject_ids.add(entry.subject_person_id)
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


def _perpetrator(p: Person) -> dict:
    return {"id": p.id, "name": p.name, "date_of_birth": _iso(p.date_of_birth),
            "aliases": p.aliases or [], "pnc_id": p.pnc_id, "nhs_number": p.nhs_number,
            "address": p.get_secret("address")}


def _victim(v: Person, decision: CaseDecision, out: Disclosure) -> dict:
    out.add("victim.identity", v)
    item = {"id": v.id, "name": v.name, "date_of_birth": _iso(v.date_of_birth)}
    if decision.can_read("victim.location"):
        out.add("victim.location", v)
        item.update({f: v.get_secret(f) for f in VICTIM_LOCATION_FIELDS})
    return item


def _member(m) -> dict:
    if m.user is not None:
        return {"type": "user", "username": m.user.username, "name": m.user.display_name,
                "agency": m.user.agency.code, "added_at": m.added_at.isoformat()}
    return {"type": "agency", "agency": m.agency.code, "name": m.agency.name,
            "added_at": m.added_at.isoformat()}


def _iso(value) -> str | None:
    return value.isoformat() if value is not None else None
