"""The case team: who is on it, finding agency staff by name to add, adding a whole agency,
and removing a member (a confirmation first; the row stays, marked removed). Only members
who may add members change the team, every change is audited, and a removed member finds
the case gone (404) on the pages and in the API."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from hub.accounts.models import User
from hub.cases.models import Membership
from tests.support.factories import (
    events_since,
    last_seq,
    links,
    make_user,
    page_text,
    sign_in,
    text_by_id,
)

CASE_WORDS = ("Perry Teamtest", "Vera Teamtest", "9 Teamtest Road")


def html(response) -> str:
    return response.get_data(as_text=True)


def new_case(api, by: str = "police.officer") -> int:
    """A case whose team is its referrer alone."""
    created = api(by).post("/cases", json={
        "perpetrator": {"name": CASE_WORDS[0]},
        "victims": [{"name": CASE_WORDS[1], "address": CASE_WORDS[2]}]})
    assert created.status_code == 201, created.json
    return created.get_json()["id"]


def user_id(session, username: str) -> int:
    return session.scalar(select(User.id).where(User.username == username))


def membership_of(session, case_id: int, username: str) -> Membership:
    return session.scalar(select(Membership).where(
        Membership.case_id == case_id, Membership.user_id == user_id(session, username)))


def add(client, case_id: int, **form):
    return client.post(f"/cases/{case_id}/members", data={"return_to": "team", **form})


# -- seeing the team ---------------------------------------------------------------------------
def test_case_page_sums_up_the_team_with_role_and_agency(api, client, session):
    case_id = new_case(api)
    sign_in(client, "police.officer")
    assert add(client, case_id, username="nhs.clinician").status_code == 302
    team = text_by_id(html(client.get(f"/cases/{case_id}")), "team")
    assert "PC Sam Ellery (Police), officer" in team
    assert "Dr Priya Nandra (NHS), clinician" in team
    page = html(client.get(f"/cases/{case_id}"))
    assert links(page, "/team$") == [f"/cases/{case_id}/team"]


def test_the_change_link_is_only_for_those_who_may_change_the_team(client, session):
    case_id = min(c for c in _demo_ids(session))
    sign_in(client, "nhs.clinician")  # a member, but clinicians do not add members
    page = html(client.get(f"/cases/{case_id}"))
    assert "Dr Priya Nandra (NHS), clinician" in text_by_id(page, "team")
    assert links(page, "/team$") == [] and "Change the team" not in page


def test_team_page_lists_each_member_with_role_agency_and_a_remove_link(api, client, session):
    case_id = new_case(api)
    sign_in(client, "police.officer")
    add(client, case_id, username="nhs.clinician")
    add(client, case_id, agency="probation")
    seq = last_seq()
    page = html(client.get(f"/cases/{case_id}/team"))
    members = text_by_id(page, "team-members")
    assert "PC Sam Ellery Officer Police" in members
    assert "Dr Priya Nandra Clinician NHS" in members
    assert "All of Probation Service Whole agency Probation" in members
    removes = links(page, r"/members/\d+/remove$")
    assert len(removes) == 3
    assert links(page, r"^/cases/\d+$") == [f"/cases/{case_id}"]  # the back link
    [read] = events_since(seq)
    assert (read.action, read.case_id, read.classes) == ("case:read", case_id, ["case.core"])
    assert not any(w in page for w in CASE_WORDS)  # the team page shows no case content


# -- finding staff by name and adding them ------------------------------------------------------
def test_staff_search_lists_matching_caseworkers_with_an_add_button(api, client, session):
    case_id = new_case(api)
    sign_in(client, "police.officer")
    page = html(client.get(f"/cases/{case_id}/team", query_string={"name": "nandra"}))
    results = text_by_id(page, "staff-results")
    assert "Dr Priya Nandra Clinician NHS" in results
    form = re.search(rf'<form[^>]*action="/cases/{case_id}/members".*?</form>',
                     page[page.index('id="staff-results"'):], re.S).group(0)
    assert 'name="username" value="nhs.clinician"' in form
    assert "Add <span class=\"govuk-visually-hidden\">Dr Priya Nandra</span>" in form


def test_staff_search_leaves_out_hub_staff_inactive_users_and_shows_who_is_on(api, client,
                                                                            session):
    case_id = new_case(api)
    gone = make_user("nhs", "clinician", username="nhs.gone.teamtest")
    gone.display_name, gone.active = "Dr Gone Teamtest", False
    kept = make_user("nhs", "clinician", username="nhs.kept.teamtest")
    kept.display_name = "Dr Kept Teamtest"
    session.commit()
    sign_in(client, "police.officer")
    for name in ("Dalby", "Pat Admin"):  # the DPO and the administrator work no cases
        page = html(client.get(f"/cases/{case_id}/team", query_string={"name": name}))
        assert "No caseworkers match" in text_by_id(page, "staff-results"), name
    page = html(client.get(f"/cases/{case_id}/team", query_string={"name": "teamtest"}))
    results = text_by_id(page, "staff-results")
    assert "Dr Kept Teamtest" in results and "Gone" not in results
    assert not any(w in page for w in CASE_WORDS)  # names of staff only, never of the case
    page = html(client.get(f"/cases/{case_id}/team", query_string={"name": "Ellery"}))
    assert "PC Sam Ellery Officer Police Already on the team" in text_by_id(page,
                                                                             "staff-results")


def test_staff_search_reveals_no_case_data(client, session):
    """A perpetrator's or victim's name typed into the staff search finds nobody."""
    case_id = min(_demo_ids(session))
    sign_in(client, "police.officer")
    for name in ("Fenwick", "Marcus"):
        page = html(client.get(f"/cases/{case_id}/team", query_string={"name": name}))
        assert "No caseworkers match" in text_by_id(page, "staff-results")


@pytest.mark.parametrize("query", [{"name": "x" * 101}, {"page": "2"}])
def test_bad_staff_search_is_400_naming_the_field(api, client, session, query):
    case_id = new_case(api)
    sign_in(client, "police.officer")
    response = client.get(f"/cases/{case_id}/team", query_string=query)
    assert response.status_code == 400
    summary = re.search(r'<div class="govuk-error-summary".*?</ul>', html(response), re.S)
    assert links(summary.group(0), "^#") == [f"#{next(iter(query))}"]
    nul = client.get(f"/cases/{case_id}/team", query_string={"name": "a\x00b"})
    assert nul.status_code == 400


def test_adding_a_found_user_is_audited_and_returns_to_the_team(api, client, session):
    case_id = new_case(api)
    sign_in(client, "police.officer")
    seq = last_seq()
    added = add(client, case_id, username="nhs.clinician")
    assert added.status_code == 302 and added.headers["Location"] == f"/cases/{case_id}/team"
    page = html(client.get(added.headers["Location"]))
    assert "Dr Priya Nandra is added to the case team." in page_text(page)
    [event] = events_since(seq, "case:member:")
    membership = membership_of(session, case_id, "nhs.clinician")
    assert event.details == {"member_user_id": membership.user_id,
                             "membership_id": membership.id}


def test_adding_a_whole_agency_from_the_list_of_partner_agencies(api, client, session):
    case_id = new_case(api)
    sign_in(client, "police.officer")
    page = html(client.get(f"/cases/{case_id}/team"))
    select_ = re.search(r'<select[^>]*name="agency".*?</select>', page, re.S).group(0)
    offered = re.findall(r'<option value="([^"]*)"', select_)
    assert offered == ["", "advocacy", "cps", "nhs", "police", "probation"]  # never "hub"
    seq = last_seq()
    assert add(client, case_id, agency="probation").status_code == 302
    [event] = events_since(seq, "case:member:")
    assert event.details["member_agency"] == "probation"
    page = html(client.get(f"/cases/{case_id}/team"))
    select_ = re.search(r'<select[^>]*name="agency".*?</select>', page, re.S).group(0)
    assert "probation" not in select_  # already on the team


def test_a_refused_addition_shows_the_team_page_with_the_problem(api, client, session):
    case_id = new_case(api)
    sign_in(client, "police.officer")
    refused = add(client, case_id, username="police.officer")  # already on it
    assert refused.status_code == 409
    page = html(refused)
    assert "There is a problem" in page and "already on the case team" in page
    assert text_by_id(page, "team-members") is not None
    refused = add(client, case_id, agency="")
    assert refused.status_code == 400 and "There is a problem" in html(refused)
    assert "Select an agency to add" in page_text(html(refused))
    assert "<title>Error: " in html(refused)
    summary = re.search(r'<div class="govuk-error-summary".*?</ul>', html(refused), re.S)
    assert links(summary.group(0), "^#") == ["#agency"]
    assert text_by_id(html(refused), "agency-error") == "Error: Select an agency to add"


# -- who may change the team ---------------------------------------------------------------------
@pytest.mark.parametrize(("username", "status"), [
    ("outsider.officer", 404), ("nhs.clinician", 403), ("dpo", 403), ("admin", 403)])
def test_only_members_who_may_add_members_see_the_team_page(client, session, username, status):
    case_id = min(_demo_ids(session))
    sign_in(client, username)
    seq = last_seq()
    for path in (f"/cases/{case_id}/team", f"/cases/{case_id}/team?name=quinlan"):
        response = client.get(path)
        assert response.status_code == status, path
        assert "Quinlan" not in html(response) and "Fenwick" not in html(response)
    assert {e.outcome for e in events_since(seq)} == {"denied"}


def test_break_glass_does_not_open_the_team_page(api, client, session):
    case_id = new_case(api)
    glass = api("police.supervisor").post(f"/cases/{case_id}/break-glass",
                                          json={"reason": "Imminent risk reported tonight"})
    assert glass.status_code == 200
    sign_in(client, "police.supervisor")
    page = html(client.get(f"/cases/{case_id}"))
    assert "Change the team" not in page
    response = client.get(f"/cases/{case_id}/team", query_string={"name": "nandra"})
    assert response.status_code == 403 and "Nandra" not in html(response)


# -- removing a member -----------------------------------------------------------------------
def test_removal_asks_for_confirmation_first(api, client, session):
    case_id = new_case(api)
    sign_in(client, "police.officer")
    add(client, case_id, username="nhs.clinician")
    membership = membership_of(session, case_id, "nhs.clinician")
    seq = last_seq()
    page = html(client.get(f"/cases/{case_id}/members/{membership.id}/remove"))
    assert "Remove Dr Priya Nandra from the case team?" in page_text(page)
    assert links(page, "/team$") == [f"/cases/{case_id}/team"] * 2  # back link and cancel
    assert 'class="govuk-back-link"' in page
    session.refresh(membership)
    assert membership.removed_at is None and events_since(seq, "case:member:") == []


def test_removing_a_member_keeps_the_row_audits_it_and_shuts_them_out(api, client, session):
    case_id = new_case(api)
    sign_in(client, "police.officer")
    add(client, case_id, username="nhs.clinician")
    assert api("nhs.clinician").get(f"/cases/{case_id}").status_code == 200
    membership = membership_of(session, case_id, "nhs.clinician")
    seq = last_seq()
    removed = client.post(f"/cases/{case_id}/members/{membership.id}/remove")
    assert removed.status_code == 302
    assert removed.headers["Location"] == f"/cases/{case_id}/team"
    page = html(client.get(removed.headers["Location"]))
    assert "Dr Priya Nandra is removed from the case team." in page_text(page)
    assert "Nandra" not in text_by_id(page, "team-members")
    session.refresh(membership)
    assert membership.removed_at is not None
    assert membership.removed_by_id == user_id(session, "police.officer")
    [event] = events_since(seq, "case:member:")
    assert (event.action, event.outcome, event.case_id, event.username) == (
        "case:member:remove", "allowed", case_id, "police.officer")
    assert event.details == {"membership_id": membership.id,
                             "member_user_id": membership.user_id}
    client.post("/sign-out")
    sign_in(client, "nhs.clinician")
    assert client.get(f"/cases/{case_id}").status_code == 404
    assert api("nhs.clinician").get(f"/cases/{case_id}").status_code == 404
    assert api("nhs.clinician").get(f"/cases/{case_id}/notes").status_code == 404


def test_removing_a_whole_agency(api, client, session):
    case_id = new_case(api)
    sign_in(client, "police.officer")
    add(client, case_id, agency="probation")
    membership = session.scalar(select(Membership).where(
        Membership.case_id == case_id, Membership.agency_id.is_not(None)))
    seen = api("probation.officer").get(f"/cases/{case_id}")
    assert seen.status_code == 200
    [whole] = [m for m in seen.get_json()["team"] if m["type"] == "agency"]
    assert (whole["agency"], whole["name"]) == ("probation", membership.agency.name)
    assert whole["added_at"] == membership.added_at.isoformat()
    listed = api("probation.officer").get("/cases?per_page=100").get_json()
    assert case_id in {c["id"] for c in listed["items"]}
    assert client.post(f"/cases/{case_id}/members/{membership.id}/remove").status_code == 302
    assert api("probation.officer").get(f"/cases/{case_id}").status_code == 404
    # ...and the case has left their list, their searches and their totals (the SQL plan)
    after = api("probation.officer").get("/cases?per_page=100").get_json()
    assert case_id not in {c["id"] for c in after["items"]}
    assert after["total"] == listed["total"] - 1
    reference = api("police.officer").get(f"/cases/{case_id}").get_json()["reference"]
    assert api("probation.officer").get(f"/cases?q={reference}").get_json()["total"] == 0


def test_the_last_member_cannot_be_removed(api, client, session):
    case_id = new_case(api)
    membership = membership_of(session, case_id, "police.officer")
    sign_in(client, "police.officer")
    refused = client.post(f"/cases/{case_id}/members/{membership.id}/remove")
    assert refused.status_code == 409 and "There is a problem" in html(refused)
    session.refresh(membership)
    assert membership.removed_at is None


def test_removing_yourself_sends_you_back_to_your_cases(api, client, session):
    case_id = new_case(api)
    sign_in(client, "police.officer")
    add(client, case_id, username="advocate")
    mine = membership_of(session, case_id, "police.officer")
    removed = client.post(f"/cases/{case_id}/members/{mine.id}/remove")
    assert removed.status_code == 302 and removed.headers["Location"] == "/cases/"
    assert client.get(f"/cases/{case_id}").status_code == 404


def test_membership_of_another_case_or_already_removed_is_404(api, client, session):
    case_id, other_id = new_case(api), new_case(api)
    sign_in(client, "police.officer")
    add(client, case_id, username="nhs.clinician")
    other = membership_of(session, other_id, "police.officer")
    for method in ("get", "post"):
        assert getattr(client, method)(
            f"/cases/{case_id}/members/{other.id}/remove").status_code == 404
    membership = membership_of(session, case_id, "nhs.clinician")
    assert client.post(f"/cases/{case_id}/members/{membership.id}/remove").status_code == 302
    assert client.post(f"/cases/{case_id}/members/{membership.id}/remove").status_code == 404
    assert client.get(f"/cases/{case_id}/members/{membership.id}/remove").status_code == 404


@pytest.mark.parametrize(("username", "status"), [
    ("outsider.officer", 404), ("nhs.clinician", 403), ("dpo", 403)])
def test_non_members_and_those_who_may_not_add_cannot_remove(client, session, username,
                                                             status):
    case_id = min(_demo_ids(session))
    membership = membership_of(session, case_id, "advocate")
    sign_in(client, username)
    for method in ("get", "post"):
        response = getattr(client, method)(f"/cases/{case_id}/members/{membership.id}/remove")
        assert response.status_code == status
    session.refresh(membership)
    assert membership.removed_at is None


# -- the API ---------------------------------------------------------------------------------
def test_api_removes_a_member_with_204_and_they_get_404(api, session):
    case_id = new_case(api)
    added = api("police.officer").post(f"/cases/{case_id}/members",
                                       json={"username": "cps.prosecutor"})
    assert added.status_code == 201
    membership_id = added.get_json()["id"]
    assert api("cps.prosecutor").get(f"/cases/{case_id}").status_code == 200
    seq = last_seq()
    removed = api("police.officer").delete(f"/cases/{case_id}/members/{membership_id}")
    assert removed.status_code == 204 and removed.data == b""
    [event] = events_since(seq, "case:member:")
    assert (event.action, event.details["membership_id"]) == ("case:member:remove",
                                                              membership_id)
    assert session.get(Membership, membership_id).removed_at is not None
    assert api("cps.prosecutor").get(f"/cases/{case_id}").status_code == 404
    team = api("police.officer").get(f"/cases/{case_id}").get_json()["team"]
    [officer] = team  # the one who referred it stays; the prosecutor has gone
    added_at = officer.pop("added_at")
    assert added_at and officer == {"type": "user", "username": "police.officer",
                                    "name": "PC Sam Ellery", "agency": "police",
                                    "role": "officer"}
    again = api("police.officer").delete(f"/cases/{case_id}/members/{membership_id}")
    assert again.status_code == 404 and set(again.get_json()) == {"error"}


def test_api_removal_is_refused_to_non_members_and_to_break_glass(api, session):
    case_id = new_case(api)
    membership_id = membership_of(session, case_id, "police.officer").id
    path = f"/cases/{case_id}/members/{membership_id}"
    assert api("outsider.officer").delete(path).status_code == 404
    assert api("dpo").delete(path).status_code == 403
    api("police.supervisor").post(f"/cases/{case_id}/break-glass",
                                  json={"reason": "Imminent risk reported tonight"})
    assert api("police.supervisor").delete(path).status_code == 403
    assert api("police.officer").delete(path).status_code == 409  # the last member
    assert session.get(Membership, membership_id).removed_at is None


def _demo_ids(session) -> list[int]:
    from tests.support.apps import demo_case_ids

    return list(demo_case_ids(session).values())
