"""Whom an entry is about: the people a subject access bundle and an erasure must reach.

An entry's ``subject_person_id`` names the one person it is about. When it is NULL the
entry is about the people its class concerns (policies/kinds.yaml ``about``) in its case:
every victim for victim information, the perpetrator for information about him, everyone
for case details. Writes store the person when that is one person, so that someone added
to the case later is not taken to be the subject of what was written before them.
"""

from __future__ import annotations

from sqlalchemy import Select, and_, or_, select

from hub.cases.models import Case, CaseParty, Entry, Person
from hub.policy import current_policy
from hub.policy.permissions import PARTIES


def default_people(case: Case, info_class: str) -> list[Person]:
    """The people of ``case`` that an entry of ``info_class`` concerns when nobody is named."""
    about = current_policy().about(info_class)
    return [p.person for p in case.parties if p.party in about]


def link(case: Case, info_class: str, chosen: int | None) -> int | None:
    """The ``subject_person_id`` to store: the person the author chose (who must be in the
    case: the caller checks), else the one default person, else NULL for several."""
    if chosen is not None:
        return chosen
    people = default_people(case, info_class)
    return people[0].id if len(people) == 1 else None


def people_of(entry: Entry, case: Case) -> list[int]:
    """The ids of everyone ``entry`` is about, for its audit events."""
    if entry.subject_person_id is not None:
        return [entry.subject_person_id]
    return [p.id for p in default_people(case, entry.info_class)]


def entries_about(person_id: int) -> Select:
    """Every entry about the person: naming them, or naming nobody in one of their cases
    with a class about their part in it."""
    policy, linked = current_policy(), [Entry.subject_person_id == person_id]
    for party in PARTIES:
        classes = [c for c in policy.classes if party in policy.about(c)]
        cases = select(CaseParty.case_id).where(CaseParty.person_id == person_id,
                                                CaseParty.party == party)
        linked.append(and_(Entry.subject_person_id.is_(None), Entry.info_class.in_(classes),
                           Entry.case_id.in_(cases)))
    return select(Entry).where(or_(*linked)).order_by(Entry.id)
