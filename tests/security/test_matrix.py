"""Every demo user x every demo case x every way case data leaves the hub, against the
independent expectation in tests/support/matrix.py (DOMAIN.md's table, Hampshire's
narrowing), never against hub.policy itself."""

from __future__ import annotations

import re
from urllib.parse import quote

import pytest

from tests.support.matrix import (
    CLASSES,
    MEMBERS,
    NON_MEMBERS,
    PERPETRATOR_FACING,
    USERS,
    VICTIM_LOCATIONS,
    agency,
    case_data_strings,
    demo_cases,
    entry_visible,
    found,
    pending_referral_ids,
    readable,
    sign_in,
    withheld,
)

# Entries narrowed by their authors (DOMAIN rule 5), added to every case for the test:
# (author, body) -> class, kind, restricted_to as asked.
NARROWED = [
    ("advocate", "victim.support", "safety_plan", ["advocacy"],
     "Narrowed safety plan: refuge address arranged, advocacy only."),
    ("police.officer", "orders", "order", ["cps"], "Narrowed order note for CPS and police."),
    ("advocate", "case.core", "action", ["advocacy"], "Narrowed action: advocacy only."),
]


@pytest.fixture
def cases(api, session):
    """The demo cases; a London and a Hampshire one get the narrowed entries (via the API)."""
    out = demo_cases(session)
    for case in (out[0], out[3]):
        for author, info_class, kind, restricted, body in NARROWED:
            r = api(author).post(f"/cases/{case.id}/notes", json={
                "body": body, "class": info_class, "kind": kind, "restricted_to": restricted})
            assert r.status_code == 201, r.json
            assert agency(author) in r.json["restricted_to"]  # the author keeps it
            assert set(restricted) <= set(r.json["restricted_to"])
            case.entries[r.json["id"]] = (info_class, kind, r.json["restricted_to"], body)
    return out


def expected_entries(username, case) -> set[int]:
    return {i for i, (c, k, r, _b) in case.entries.items()
            if entry_visible(username, case.area, c, k, r)}


def expected_narrowed(username, case) -> int:
    return sum(1 for c, k, r, _b in case.entries.values()
               if entry_visible(username, case.area, c, k, None)
               and not entry_visible(username, case.area, c, k, r))


class Bodies:
    """Every response body of the test, to search for what must never appear."""

    def __init__(self):
        self.all: list[tuple[str, str, str]] = []

    def keep(self, what: str, response, query: str = ""):
        """``query``: the caller's own search text, which a page may echo back."""
        self.all.append((what, response.get_data(as_text=True), query))
        return response

    def containing(self, strings) -> list[tuple[str, list[str]]]:
        return [(what, hits) for what, body, query in self.all
                if (hits := [s for s in found(body, strings) if s not in query])]


def check_case_json(username, case, body) -> None:
    can = readable(username, case.area)
    assert set(body["withheld"]) == withheld(username, case.area)
    assert len(body["withheld"]) == len(set(body["withheld"]))
    ids = {e["id"] for e in body["entries"]}
    assert ids == expected_entries(username, case), username
    for e in body["entries"]:
        assert e["class"] == case.entries[e["id"]][0]
        assert e["class"] in can or (agency(username) == "police" and e["class"] ==
                                     "victim.support" and e["kind"] == "safety_plan")
    assert body["narrowed_entries"] == expected_narrowed(username, case)
    assert ("perpetrator" in body) == ("perpetrator.identity" in can)
    assert ("victims" in body) == ("victim.identity" in can)
    assert ("team" in body) == ("case.core" in can)
    assert body["access"] == "member"  # all on the team (break-glass: test_break_glass_search)
    assert body.get("summary") == (case.summary if "case.core" in can else None)
    if "victims" in body:
        assert {v["id"] for v in body["victims"]} == {i for i, _n in case.victims}
        for v in body["victims"]:
            has_location = any(k in v for k in ("address", "phone", "email", "workplace"))
            assert has_location == ("victim.location" in can), (username, v)
    if "perpetrator" in body:
        assert body["perpetrator"]["id"] == case.perpetrator[0]


def check_case_page(username, case, html: str) -> None:
    ids = {int(i) for i in re.findall(r'id="entry-(\d+)"', html)}
    assert ids == expected_entries(username, case), username
    listed = re.search(r'id="withheld-list">(.*?)</ul>', html, re.S)
    shown = set(re.findall(r"<strong>([a-z.]+)</strong>", listed.group(1))) if listed else set()
    assert shown == withheld(username, case.area)
    victims_shown = {int(i) for i in re.findall(r'id="victim-(\d+)"', html)}
    can = readable(username, case.area)
    assert victims_shown == ({i for i, _n in case.victims} if "victim.identity" in can
                             else set())


def searches(case) -> list[str]:
    return [case.reference, case.perpetrator[1].split()[-1].lower(), case.victims[0][1]]


@pytest.mark.parametrize("username", list(USERS))
def test_what_each_user_sees_of_each_case(api, client, session, cases, username):
    member = username in MEMBERS
    bodies = Bodies()
    sign_in(client, username)
    me = api(username)
    for case in cases:
        view = bodies.keep("json", me.get(f"/cases/{case.id}"))
        page = bodies.keep("page", client.get(f"/cases/{case.id}"))
        notes = bodies.keep("notes", me.get(f"/cases/{case.id}/notes"))
        if not member:
            assert (view.status_code, page.status_code, notes.status_code) == (404, 404, 404)
            continue
        assert (view.status_code, page.status_code, notes.status_code) == (200, 200, 200)
        check_case_json(username, case, view.json)
        check_case_page(username, case, page.get_data(as_text=True))
        assert {e["id"] for e in notes.json["items"]} == expected_entries(username, case)
        assert set(notes.json["withheld"]) == withheld(username, case.area)
        assert notes.json["narrowed_entries"] == expected_narrowed(username, case)
    check_lists_and_searches(me, client, bodies, cases, username)
    check_leaks(bodies, cases, username)


def check_lists_and_searches(me, client, bodies, cases, username) -> None:
    may_list = username not in ("dpo", "admin")
    listing = bodies.keep("list", me.get("/cases?per_page=100"))
    bodies.keep("list page", client.get("/cases/"))
    if not may_list:
        assert listing.status_code == 403
    else:
        expected = {c.id for c in cases} if username in MEMBERS else set()
        listed = {i["id"] for i in listing.json["items"]}
        if username == "coordinator":  # also on the team of the referrals waiting for them
            expected |= set(pending_referral_ids())
        assert listing.status_code == 200
        assert listed == expected
        assert listing.json["total"] == len(expected)
        check_list_items(username, cases, listing.json["items"])
    for case in cases:
        for q in searches(case):
            r = bodies.keep(f"search {q}", me.get(f"/cases?q={quote(q)}&per_page=100"), q)
            if not may_list:
                assert r.status_code == 403
                continue
            ids = {i["id"] for i in r.json["items"]}
            assert (case.id in ids) == (username in MEMBERS), (username, q)
            if username not in MEMBERS:
                assert r.json["total"] == 0 and ids == set()
        q = case.victims[0][1]
        bodies.keep(f"search page {q}", client.get(f"/cases/?q={quote(q)}"), q)
    if username not in PERPETRATOR_FACING and username in MEMBERS:
        return  # they may see the victim's location anyway: the leak checks are for the rest
    for n, location in enumerate(VICTIM_LOCATIONS):
        r = bodies.keep(f"search {location}", me.get(f"/cases?q={quote(location)}"), location)
        bodies.keep(f"search page {location}", client.get(f"/cases/?q={quote(location)}"),
                    location)
        assert r.status_code == 403 or r.json["total"] == 0, (username, location)
        if n < 2:  # a query too long to run: the error must not echo it
            bodies.keep("error", me.get(f"/cases?q={quote(location + 'x' * 100)}"))
            bodies.keep("error page", client.get(f"/cases/?q={quote(location + 'x' * 100)}"))


def check_list_items(username, cases, items) -> None:
    """Each demo case in a list carries what its reader may read of it, and nothing else."""
    by_id = {c.id: c for c in cases}
    for item in items:
        if item["id"] not in by_id:
            continue  # a referral waiting for the coordinator
        case, can = by_id[item["id"]], readable(username, by_id[item["id"]].area)
        core = {"reference": case.reference, "area": case.area} if "case.core" in can else {}
        assert {k: item[k] for k in core} == core and (
            "referred_on" in item) == ("case.core" in can), (username, case.id)
        if "perpetrator.identity" in can:
            assert item["perpetrator"] == {"id": case.perpetrator[0], "name": case.perpetrator[1]}
        else:
            assert "perpetrator" not in item


def check_leaks(bodies, cases, username) -> None:
    if username in PERPETRATOR_FACING:
        assert bodies.containing(VICTIM_LOCATIONS) == [], username
    if username in NON_MEMBERS:
        assert bodies.containing(case_data_strings(cases)) == [], username


def test_police_see_victim_support_only_as_safety_plans(api, cases):
    for case in cases:
        body = api("police.officer").get(f"/cases/{case.id}").json
        support = [e for e in body["entries"] if e["class"] == "victim.support"]
        assert support and {e["kind"] for e in support} == {"safety_plan"}
        assert "victim.support" in body["withheld"]
        assert "Narrowed safety plan" not in str(body)  # narrowed to advocacy


def test_hampshire_withholds_the_clinical_summary_from_probation_only(api, cases):
    for case in cases:
        probation = api("probation.officer").get(f"/cases/{case.id}").json
        police = api("police.officer").get(f"/cases/{case.id}").json
        hampshire = case.area == "hampshire"
        assert ("clinical.summary" in probation["withheld"]) == hampshire
        assert "clinical.summary" not in police["withheld"]
        assert any(e["class"] == "clinical.summary" for e in probation["entries"]) != hampshire
    assert {c.area for c in cases} == {"london", "hampshire"}


def test_the_independent_table_covers_every_class(app):
    """A class added to the policy without a row here would go untested."""
    assert set(app.extensions["hub.policy"].classes) == set(CLASSES)
