"""The case page for a busy officer (summary, entries newest first, filter, new since the
last visit, status/risk/review changes, corrections of people's details with history) and
the withheld panel that must agree with what the page shows (defect 4)."""

from __future__ import annotations

import pytest

from tests.conftest import demo_case_ids
from tests.factories import page_text, sign_in, text_by_id

VICTIM = {"name": "Vera Pagetest", "address": "3 Old Lane, London E9 0ZZ",
          "phone": "07700 900555"}


def html(response) -> str:
    return response.get_data(as_text=True)


def first_case(session) -> int:
    return next(iter(demo_case_ids(session).values()))


def new_case(api, *, members=("nhs.clinician",), victim=None) -> dict:
    """A fresh case referred by police.officer, with ``members`` named on its team."""
    created = api("police.officer").post("/cases", json={
        "perpetrator": {"name": "Perry Pagetest"}, "victims": [victim or VICTIM]})
    assert created.status_code == 201, created.get_json()
    body = created.get_json()
    for username in members:
        added = api("police.officer").post(f"/cases/{body['id']}/members",
                                           json={"username": username})
        assert added.status_code == 201, added.get_json()
    return body


def detail(body: dict, info_class: str) -> dict:
    return next(d for d in body["withheld_detail"] if d["class"] == info_class)


# -- defect 4: the withheld panel agrees with the page -----------------------------------
def test_safety_plan_readers_are_told_victim_support_is_only_partly_withheld(api, client,
                                                                             session):
    case_id = first_case(session)
    body = api("police.officer").get(f"/cases/{case_id}").get_json()
    assert "victim.support" in body["withheld"]  # CONTRACT: every class not wholly readable
    assert body["partly_withheld"] == ["victim.support"]
    assert detail(body, "victim.support")["partly"] is True
    assert detail(body, "clinical")["partly"] is False
    sign_in(client, "police.officer")
    page = html(client.get(f"/cases/{case_id}"))
    panel = text_by_id(page, "withheld-list")
    assert "Victim support and safety planning: partly withheld" in " ".join(panel.split())
    assert "Safety plan agreed" in page_text(page)  # ...which the page shows below it


def test_a_new_case_names_only_agencies_that_hold_something(api, session):
    case = new_case(api)
    body = api("nhs.clinician").get(f"/cases/{case['id']}").get_json()
    for empty in ("intelligence", "victim.support", "legal"):
        assert detail(body, empty)["ask"] == [], empty  # nobody has recorded any yet
    assert detail(body, "victim.location")["ask"] == ["police"]  # the referrer holds it


def test_holders_are_the_agencies_whose_entries_are_withheld(api, session):
    case = new_case(api, members=("nhs.clinician", "advocate", "cps.prosecutor"))
    notes = [("advocate", "victim.support", "safety_plan"), ("cps.prosecutor", "legal", "note")]
    for username, info_class, kind in notes:
        posted = api(username).post(f"/cases/{case['id']}/notes",
                                    json={"body": "x", "class": info_class, "kind": kind})
        assert posted.status_code == 201, posted.get_json()
    police = api("police.officer").get(f"/cases/{case['id']}").get_json()
    assert detail(police, "victim.support")["ask"] == []  # the only one is a safety plan
    assert detail(police, "legal")["ask"] == ["cps"]
    nhs = api("nhs.clinician").get(f"/cases/{case['id']}").get_json()
    assert detail(nhs, "victim.support") == {"class": "victim.support", "partly": False,
                                              "ask": ["advocacy"]}
    api("advocate").post(f"/cases/{case['id']}/notes",
                         json={"body": "wishes", "class": "victim.support", "kind": "note"})
    police = api("police.officer").get(f"/cases/{case['id']}").get_json()
    assert detail(police, "victim.support")["ask"] == ["advocacy"]


@pytest.mark.parametrize("username", ["nhs.clinician", "probation.officer"])
def test_the_panel_on_a_new_case_names_nobody_for_what_nobody_holds(api, client, session,
                                                                    username):
    case = new_case(api, members=(username,))
    sign_in(client, username)
    panel = " ".join(text_by_id(html(client.get(f"/cases/{case['id']}")),
                                "withheld-list").split())
    assert "Police intelligence: nothing recorded on this case yet" in panel
    assert "held by Police" in panel  # the victim's address, which police referred
    assert "CPS" not in panel and "Advocacy service" not in panel
