"""The DPO's look-ups without internal numbers: a person found by name and a case by
reference from the landing page; record metadata only (DOMAIN rule 8), every search on the
record without the words typed; pick-lists and UK dates in the audit search; names and
references, not ids, on alerts and histories; and what was read under a break-glass grant."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest
from sqlalchemy import select

from hub.accounts.models import User
from hub.cases.models import Case, CaseParty, Person
from hub.dpo.models import Alert
from hub.dpo.schemas import AuditFilterIn
from hub.policy import current_policy
from hub.seed import CASES, ENTRIES
from hub.web.formatting import uk_date
from tests.dpo.conftest import case_ids
from tests.support.apps import demo_case_ids
from tests.support.factories import events_since, last_seq

FIRST = "STAC-LON-2026-00001"
# What a case holds beyond its metadata: none of it may reach a look-up's answer.
CONTENT = sorted({e[3] for e in ENTRIES} | {c["summary"] for c in CASES}
                 | {v[k] for c in CASES for v in c["victims"] for k in v if k != "name"}
                 | {c["perpetrator"].get("address", "") for c in CASES} - {""}
                 | {a for c in CASES for a in c["perpetrator"].get("aliases", [])}
                 | {c["perpetrator"].get(k, "") for c in CASES for k in ("pnc_id", "nhs_number")}
                 - {""}
                 | {c["perpetrator"]["date_of_birth"].isoformat() for c in CASES}
                 | {uk_date(c["perpetrator"]["date_of_birth"]) for c in CASES})


def person_id(session, name: str) -> int:
    return session.scalar(select(Person.id).where(Person.name == name))


def user_id(session, username: str) -> int:
    return session.scalar(select(User.id).where(User.username == username))


def text_of(html: str) -> str:
    """The page's main content as words, without tags."""
    main = html.split("<main", 1)[1].split("</main>", 1)[0]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", main))


# -- the landing page ----------------------------------------------------------------------
def test_the_landing_page_offers_find_a_person_and_find_a_case(web, session):
    page = web("dpo").get("/dpo/").text
    assert re.search(r'<form method="get" action="/dpo/people"', page)
    assert re.search(r'<label[^>]*for="name">Find a person</label>', page)
    assert re.search(r'<form method="get" action="/dpo/cases"', page)
    assert re.search(r'<label[^>]*for="reference">Find a case</label>', page)


# -- a person, by name ---------------------------------------------------------------------
def test_a_name_search_shows_name_part_reference_and_area_and_nothing_else(web, session):
    client = web("dpo")
    seq = last_seq()
    page = client.get("/dpo/people?name=fictitious")
    assert page.status_code == 200
    words = text_of(page.text)
    reference = next(r for r, _i in demo_case_ids(session).items() if r.endswith("00003"))
    for name in ("Helen Fictitious", "Ruth Fictitious"):
        row = re.search(rf"<tr[^>]*>(?:(?!</tr>).)*{name}(?:(?!</tr>).)*</tr>", page.text, re.S)
        assert row, name
        assert "Victim" in row.group(0) and reference in row.group(0) and "London" in row.group(0)
        assert f'href="/audit/people/{person_id(session, name)}"' in row.group(0)
    assert "2 people" in words
    leaked = [m for m in CONTENT if m in page.text]
    assert leaked == []
    assert "Gareth Notreal" not in page.text  # the perpetrator of that case was not asked for
    [event] = events_since(seq)
    assert event.action == "audit:person-search" and event.username == "dpo"
    assert event.subject_ids == sorted(person_id(session, n) for n in (
        "Helen Fictitious", "Ruth Fictitious"))
    assert event.details["name_search"] is True and event.details["total"] == 2
    assert "fictitious" not in repr(event.details).lower()  # the name typed is not kept
    assert "victim.identity" in event.classes and "victim.location" not in event.classes


def test_one_match_goes_straight_to_the_persons_access_history(api, web, session):
    claire = person_id(session, "Claire Example-Holt")
    case = demo_case_ids(session)[FIRST]
    api("advocate").get(f"/cases/{case}")  # an access to her record to be found
    client = web("dpo")
    found = client.get("/dpo/people?name=claire+example-holt")
    assert found.status_code == 302 and found.location.endswith(f"/audit/people/{claire}")
    history = client.get(found.location)
    assert history.status_code == 200
    words = text_of(history.text)
    assert "Who has seen Claire Example-Holt" in words
    assert f"Victim on case {FIRST}" in words and "London" in words
    row = re.search(r"<tr[^>]*>(?:(?!</tr>).)*Robin Castell(?:(?!</tr>).)*</tr>",
                    history.text, re.S).group(0)
    for shown in ("Advocacy service", "advocate", "case:read", "Victim&#39;s address and contact "
                  "details", "member", uk_date(datetime.now(UTC))):
        assert shown in row, shown
    assert [m for m in CONTENT if m in history.text] == []


def test_the_perpetrator_is_found_as_the_perpetrator(web, session):
    page = web("dpo").get("/dpo/people?name=Fenwick")
    assert page.status_code == 302  # one person: straight to the history
    history = web("dpo").get(page.location).text
    assert f"Perpetrator on case {FIRST}" in text_of(history)


def test_a_search_with_no_match_says_so_and_is_audited(web, session):
    client = web("dpo")
    seq = last_seq()
    page = client.get("/dpo/people?name=Nobody+Of+That+Name")
    assert page.status_code == 200 and "No one matches" in text_of(page.text)
    [event] = events_since(seq)
    assert (event.action, event.subject_ids, event.details["total"]) == (
        "audit:person-search", [], 0)


@pytest.mark.parametrize(("query", "message"), [
    ("name=", "Enter a name to search for"), ("name=%20%20", "Enter a name to search for"),
    ("name=" + "x" * 101, "Name must be 100 characters or fewer"),
    ("reference=", "Enter a case reference to search for"),
    ("reference=" + "x" * 33, "Case reference must be 32 characters or fewer")])
def test_a_bad_search_is_a_400_with_a_gov_uk_message(web, session, query, message):
    path = "/dpo/people" if query.startswith("name") else "/dpo/cases"
    page = web("dpo").get(f"{path}?{query}")
    assert page.status_code == 400
    field = query.split("=", 1)[0]
    assert f'<a href="#{field}">{message}</a>' in page.text
    assert f'id="{field}-error"' in page.text


# -- a case, by reference --------------------------------------------------------------------
def test_a_reference_goes_straight_to_who_has_seen_the_case(web, session):
    case = demo_case_ids(session)[FIRST]
    client = web("dpo")
    seq = last_seq()
    found = client.get(f"/dpo/cases?reference={FIRST.lower()}")
    assert found.status_code == 302 and found.location.endswith(f"/audit/cases/{case}")
    [event] = events_since(seq)
    assert event.action == "audit:case-search" and event.details["case_ids"] == [case]
    assert FIRST not in repr(event.details) and FIRST.lower() not in repr(event.details)
    history = client.get(found.location).text
    assert f"Who has seen case {FIRST}" in text_of(history)


def test_part_of_a_reference_lists_the_cases_with_their_area(web, session):
    page = web("dpo").get("/dpo/cases?reference=2026")
    assert page.status_code == 200
    ids = demo_case_ids(session)
    for reference, case in ids.items():
        assert f'href="/audit/cases/{case}">{reference}</a>' in page.text
    assert "Hampshire" in page.text and "London" in page.text
    assert [m for m in CONTENT if m in page.text] == []
    empty = web("dpo").get("/dpo/cases?reference=NOPE-0000")
    assert empty.status_code == 200 and "No case matches" in text_of(empty.text)


@pytest.mark.parametrize("path", ["/dpo/people?name=Claire", "/dpo/cases?reference=STAC"])
@pytest.mark.parametrize("username", ["police.officer", "admin", "advocate"])
def test_only_dpos_look_people_and_cases_up(web, session, username, path):
    assert web(username).get(path).status_code == 403


# -- the audit search: pick-lists and UK dates ---------------------------------------------
def _options(page: str, select_id: str) -> dict[str, str]:
    block = re.search(rf'<select[^>]*id="{select_id}"[^>]*>(.*?)</select>', page, re.S)
    assert block, select_id
    return dict(re.findall(r'<option value="([^"]*)"[^>]*>([^<]*)</option>', block.group(1)))


def test_agency_role_and_action_are_pick_lists(api, web, session):
    api("nhs.clinician").get(f"/cases/{case_ids(api)[0]}")
    page = web("dpo").get("/audit/?agency=nhs&role=clinician&action=case:read").text
    policy = current_policy()
    agencies = _options(page, "agency")
    assert set(agencies) - {""} == set(policy.set.agencies)
    assert agencies["nhs"] == "NHS" and agencies["police"] == "Police"
    roles = _options(page, "role")
    assert set(roles) - {""} == {r for a in policy.set.agencies for r in policy.roles(a)}
    assert roles["probation_officer"] == "probation officer"
    actions = _options(page, "action")
    assert {"case:read", "audit:search", "auth:login"} <= set(actions)
    for name, value in (("agency", "nhs"), ("role", "clinician"), ("action", "case:read")):
        assert re.search(rf'<option value="{value}" selected>', page.split(f'id="{name}"')[1])
    assert not re.search(r'<input[^>]*id="(agency|role|action)"', page)


def test_an_action_the_list_does_not_know_is_kept_selected(web, session):
    page = web("dpo").get("/audit/?action=made:up").text
    assert _options(page, "action")["made:up"] == "made:up"


@pytest.mark.parametrize(("typed", "expected"), [
    ("24/11/2026", datetime(2026, 11, 24, tzinfo=UTC)),  # winter: London is UTC
    ("1/7/2026", datetime(2026, 6, 30, 23, tzinfo=UTC)),  # summer: a London day
    ("2026-07-01", datetime(2026, 6, 30, 23, tzinfo=UTC)),  # ISO still accepted
    ("2026-11-24T09:30", datetime(2026, 11, 24, 9, 30, tzinfo=UTC))])
def test_dates_are_read_as_a_person_in_the_uk_types_them(typed, expected):
    assert AuditFilterIn().load({"since": typed})["since"] == expected


def test_a_uk_until_date_takes_in_the_whole_day(session):
    until = AuditFilterIn().load({"until": "24/11/2026"})["until"]
    assert until == datetime(2026, 11, 25, tzinfo=UTC)


def test_uk_and_iso_dates_find_the_same_events(api, session):
    api("police.officer").get(f"/cases/{case_ids(api)[0]}")
    today = datetime.now(UTC).date()
    iso = api("dpo").get(f"/audit/events?action=case:read&since={today.isoformat()}").json
    uk = api("dpo").get(f"/audit/events?action=case:read&since={today:%d/%m/%Y}").json
    iso, uk = iso["total"], uk["total"]
    assert uk == iso > 0


@pytest.mark.parametrize(("query", "field", "message"), [
    ("since=31/02/2026", "since", "Date from must be a real date"),
    ("until=29/02/2027", "until", "Date to must be a real date"),
    ("since=2026-13-01", "since", "Date from must be a real date"),
    ("since=next+week", "since", "Date from must be a date, like 24/11/2026"),
    ("since=0001-01-01T00:00%2B05:00", "since", "Date from must be a date, like 24/11/2026"),
    ("until=31/12/9999", "until", "Date to must be a real date"),
    ("since=25/11/2026&until=24/11/2026", "until",
     "Date to must be the same as or after date from")])
def test_an_impossible_date_is_a_400_naming_the_field(api, web, session, query, field,
                                                      message):
    answer = api("dpo").get(f"/audit/events?{query}")
    assert answer.status_code == 400 and answer.json["error"]["field"] == field
    for path in ("/audit/", "/audit/people/1"):
        page = web("dpo").get(f"{path}?{query}")
        assert page.status_code == 400, path
        assert f'<a href="#{field}">{message}</a>' in page.text, path
        assert f'id="{field}-error"' in page.text


# -- names, not ids, on alerts and histories ------------------------------------------------
def _break_glass(api, session) -> tuple[int, str, int]:
    """A case the supervisor is not on, opened under break-glass and read twice:
    (case id, its reference, the alert's id)."""
    new = api("police.officer").post("/cases", json={
        "perpetrator": {"name": "Perry Glasscase"},
        "victims": [{"name": "Vera Glasscase", "address": "3 Hidden Row, London E2 0ZZ"}]}).json
    supervisor = api("police.supervisor")
    assert supervisor.post(f"/cases/{new['id']}/break-glass",
                           json={"reason": "Victim unreachable; welfare check"}).status_code \
        == 200
    assert supervisor.get(f"/cases/{new['id']}").status_code == 200
    assert supervisor.get(f"/cases/{new['id']}/notes").status_code == 200
    supervisor.get(f"/cases/{case_ids(api)[0]}")  # not under the grant: another case
    api("police.officer").get(f"/cases/{new['id']}")  # not under the grant: someone else
    alert = session.scalar(select(Alert).where(Alert.case_id == new["id"]))
    return new["id"], new["reference"], alert.id


def test_alerts_show_names_and_references_not_ids(api, web, session):
    case, reference, alert_id = _break_glass(api, session)
    supervisor = user_id(session, "police.supervisor")
    client = web("dpo")
    for path in ("/dpo/alerts", f"/dpo/alerts/{alert_id}"):
        words = text_of(client.get(path).text)
        assert f"Break-glass access to case {reference} by Sgt Jo Marlow" in words, path
        assert f"case {case} " not in words and f"user {supervisor}" not in words, path
        assert uk_date(datetime.now(UTC)) in words, path
        assert not re.search(r"\d{4}-\d{2}-\d{2}", words), path


def test_a_break_glass_alert_lists_what_was_read_under_the_grant(api, web, session):
    _case, _reference, alert_id = _break_glass(api, session)
    page = web("dpo").get(f"/dpo/alerts/{alert_id}").text
    table = page.split('id="reads-under-grant"', 1)[1].split("</table>", 1)[0]
    rows = re.findall(r"<tr class=\"govuk-table__row\">(.*?)</tr>", table.split("<tbody", 1)[1],
                      re.S)
    assert len(rows) == 2, rows  # the case read and the notes read, nothing else
    assert "case:read" in rows[0] + rows[1] and "entry:list" in rows[0] + rows[1]
    assert "Victim&#39;s address and contact details" in table and "Case details" in table
    assert uk_date(datetime.now(UTC)) in table
    assert "victim.location" not in table  # classes in words, not codes
    assert [m for m in ("3 Hidden Row",) if m in page] == []


def test_histories_show_names_and_references(api, web, session):
    case, reference, _alert = _break_glass(api, session)
    client = web("dpo")
    by_case = text_of(client.get(f"/audit/cases/{case}").text)
    assert f"Who has seen case {reference}" in by_case
    assert "Sgt Jo Marlow" in by_case and "PC Sam Ellery" in by_case and "Police" in by_case
    assert "break-glass" in by_case and "Victim unreachable; welfare check" in by_case
    by_user = text_of(client.get("/audit/users/police.supervisor").text)
    assert "Activity of Sgt Jo Marlow" in by_user and reference in by_user
    victim = session.scalar(select(CaseParty.person_id).join(Case).where(
        Case.id == case, CaseParty.party == "victim"))
    by_person = text_of(client.get(f"/audit/people/{victim}").text)
    assert "Who has seen Vera Glasscase" in by_person and reference in by_person
    assert "3 Hidden Row" not in by_person


def test_a_history_offers_this_week_and_lists_newest_first(api, web, session):
    case = demo_case_ids(session)[FIRST]
    api("advocate").get(f"/cases/{case}")
    api("nhs.clinician").get(f"/cases/{case}")
    page = web("dpo").get(f"/audit/cases/{case}").text
    monday = re.search(r'href="/audit/cases/\d+\?since=(\d{2}/\d{2}/\d{4})">This week', page)
    assert monday, "no this-week link"
    day = datetime.strptime(monday.group(1), "%d/%m/%Y").date()
    assert day.weekday() == 0 and (datetime.now(UTC).date() - day).days < 7
    words = text_of(page)
    assert words.index("Dr Priya Nandra") < words.index("Robin Castell")  # newest first
    week = web("dpo").get(f"/audit/cases/{case}?since={monday.group(1)}")
    assert week.status_code == 200 and "Dr Priya Nandra" in week.text


def test_unknown_people_and_cases_are_a_404_on_the_history_pages(web, session):
    client = web("dpo")
    assert client.get("/audit/people/999999").status_code == 404
    assert client.get("/audit/cases/999999").status_code == 404
