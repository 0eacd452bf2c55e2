"""The DPO's look-ups: people by name and cases by reference, and the names that stand in
for ids on the console's pages.

Record metadata only (DOMAIN rule 8): a person's name, their part in a case, the case's
reference and area. Nothing of a case's content, and no location, is ever selected here.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import func, select

from hub.accounts.models import Agency, Area, User
from hub.cases.models import Case, CaseParty, Person
from hub.extensions import db
from hub.sql import LIKE_ESCAPE, contains

LIMIT = 100  #: rows a look-up shows; a longer list asks for more of the name instead
MAX_WORDS = 6
IDENTITY = {"victim": "victim.identity", "perpetrator": "perpetrator.identity"}


@dataclass(frozen=True)
class Party:
    """A person's part in one case, as a DPO may see it."""

    person_id: int
    name: str | None
    party: str  #: victim or perpetrator
    case_id: int
    reference: str
    area: str


def _parties():
    return (select(Person.id, Person.name, CaseParty.party, Case.id, Case.reference, Area.name)
            .join(CaseParty, CaseParty.person_id == Person.id)
            .join(Case, Case.id == CaseParty.case_id).join(Area, Area.id == Case.area_id))


def find_people(name: str) -> tuple[list[Party], bool]:
    """Parties whose person's name holds every word typed (any case, any order), and
    whether there were more than LIMIT. Erased people have no name, so are never found."""
    words = name.split()[:MAX_WORDS]
    query = _parties().where(Person.name.is_not(None),
                             *(Person.name.ilike(contains(w), escape=LIKE_ESCAPE) for w in words))
    rows = db.session.execute(query.order_by(Person.name, Person.id, Case.reference)
                              .limit(LIMIT + 1)).all()
    return [Party(*row) for row in rows[:LIMIT]], len(rows) > LIMIT


def parties_of(person_id: int) -> list[Party]:
    rows = db.session.execute(_parties().where(Person.id == person_id)
                              .order_by(Case.reference)).all()
    return [Party(*row) for row in rows]


def find_cases(reference: str) -> tuple[Case | None, list[tuple[int, str, str]], bool]:
    """(the case with exactly that reference, or None; else (id, reference, area) of cases
    whose reference holds the text; whether there were more than LIMIT)."""
    wanted = reference.strip().upper()
    exact = db.session.scalar(select(Case).where(func.upper(Case.reference) == wanted))
    if exact is not None:
        return exact, [], False
    rows = db.session.execute(
        select(Case.id, Case.reference, Area.name).join(Area, Area.id == Case.area_id)
        .where(Case.reference.ilike(contains(wanted), escape=LIKE_ESCAPE))
        .order_by(Case.reference).limit(LIMIT + 1)).all()
    return None, [tuple(r) for r in rows[:LIMIT]], len(rows) > LIMIT


def case_area(case_id: int) -> tuple[str, str] | None:
    """(reference, area name) of a case, or None when there is no such case."""
    row = db.session.execute(select(Case.reference, Area.name).join(Area, Area.id == Case.area_id)
                             .where(Case.id == case_id)).first()
    return tuple(row) if row else None


# -- names for ids ----------------------------------------------------------------------------
def display_names(usernames: Iterable[str | None]) -> dict[str, str]:
    """username -> the person's name, for the users an audit page mentions."""
    wanted = {u for u in usernames if u}
    if not wanted:
        return {}
    return dict(db.session.execute(select(User.username, User.display_name)
                                   .where(User.username.in_(wanted))).all())


def users_by_id(ids: Iterable[int | None]) -> dict[int, tuple[str, str]]:
    """user id -> (name, agency code), for alerts, which keep ids only."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    rows = db.session.execute(select(User.id, User.display_name, Agency.code)
                              .join(Agency, Agency.id == User.agency_id)
                              .where(User.id.in_(wanted))).all()
    return {user_id: (name, agency) for user_id, name, agency in rows}


def references(ids: Iterable[int | None]) -> dict[int, str]:
    """case id -> reference."""
    wanted = {i for i in ids if i is not None}
    if not wanted:
        return {}
    return dict(db.session.execute(select(Case.id, Case.reference)
                                   .where(Case.id.in_(wanted))).all())


def agencies() -> list[Agency]:
    """Every agency, as the audit log names them (its code), for the search's pick-list."""
    return list(db.session.scalars(select(Agency).order_by(Agency.name)))
