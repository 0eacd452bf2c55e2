"""Every kind of agency writes a note of every information class over HTTP, on demo cases
of every status, and gets 201 exactly where DOMAIN.md's table gives its agency W (and the
case is not closed, which leaves only case.core writable), else 403 with nothing written.

The expectation comes from tests/support/matrix.py (a hand copy of DOMAIN.md's table and
of the closed-case rule), never from hub.policy. A plain ``note`` may be filed under every
class (policies/kinds.yaml), and the bodies hold nothing of any victim's location, so the
location guard never has a reason to refuse one.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.support.apps import demo_case_ids
from tests.support.matrix import CLASSES, may_write, row_counts

# One demo user of every kind of agency; the hub's own staff (dpo) write nothing at all.
WRITERS = ["police.officer", "nhs.clinician", "probation.officer", "cps.prosecutor",
           "advocate", "dpo"]


def _cases(session) -> list[tuple[int, str]]:
    """(id, status) of every demo case: active, accepted, screening, active, referred."""
    from hub.cases.models import Case

    return [(c.id, c.status) for c in session.scalars(
        select(Case).where(Case.id.in_(demo_case_ids(session).values())).order_by(Case.id))]


def _close(api, case_id: int) -> None:
    """Police close a case through the API (its case.core is theirs to change)."""
    version = api("police.officer").get(f"/cases/{case_id}").json["version"]
    r = api("police.officer").patch(f"/cases/{case_id}", json={
        "version": version, "status": "closed", "closure_reason": "Closed for the test."})
    assert r.status_code == 200 and r.json["status"] == "closed", r.json


def _write(api, username: str, case_id: int, info_class: str):
    return api(username).post(f"/cases/{case_id}/notes", json={
        "body": f"Matrix note by {username} filed as {info_class}.", "class": info_class,
        "kind": "note"})


def _check(api, session, username: str, case_id: int, status: str) -> list[str]:
    """Every class on one case: the problems found, as readable lines."""
    problems = []
    for info_class in CLASSES:
        before = row_counts(session)
        r = _write(api, username, case_id, info_class)
        after = row_counts(session)
        expected = 201 if may_write(username, status, info_class) else 403
        if r.status_code != expected:
            problems.append(f"{status} case {case_id}, {info_class}: {r.status_code} "
                            f"(expected {expected}) {r.get_data(as_text=True)[:200]}")
        elif expected == 201:
            grew = {t: after[t] - before[t] for t in before if after[t] != before[t]}
            if grew != {"entries": 1, "entry_versions": 1} or r.json["class"] != info_class:
                problems.append(f"{status} case {case_id}, {info_class}: wrote {grew}, "
                                f"filed as {r.json['class']}")
        elif after != before or set(r.json) != {"error"}:
            problems.append(f"{status} case {case_id}, {info_class}: refused, yet wrote "
                            f"{after} (was {before}) or answered {r.json}")
    return problems


@pytest.mark.parametrize("username", WRITERS)
def test_each_agency_writes_exactly_its_classes_in_every_status(api, session, username):
    cases = _cases(session)
    assert {s for _i, s in cases} == {"referred", "screening", "accepted", "active"}
    problems = [p for case_id, status in cases for p in _check(api, session, username,
                                                                case_id, status)]
    first = cases[0][0]
    _close(api, first)
    problems += _check(api, session, username, first, "closed")
    assert not problems, "\n".join(problems)


def test_the_matrix_expects_writes_and_refusals_of_every_class():
    """The expectation is not empty on either side: each class is written by some agency
    and refused to another, and a closed case leaves case.core writable."""
    for info_class in CLASSES:
        writers = {u for u in WRITERS if may_write(u, "active", info_class)}
        assert writers and writers != set(WRITERS), info_class
    assert {c for c in CLASSES if may_write("police.officer", "closed", c)} == {"case.core"}
