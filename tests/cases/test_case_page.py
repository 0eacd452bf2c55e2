"""The case page for a busy officer (summary, entries newest first, filter, new since the
last visit, status/risk/review changes, corrections of people's details with history) and
the withheld panel that must agree with what the page shows (defect 4)."""

from __future__ import annotations

import re
import shutil
from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import func, select

from hub import crypto
from hub.cases.models import Case, Entry, Person, PersonChange
from hub.policy import changes, load_policy
from hub.web.formatting import uk_date, uk_datetime
from tests.cases.test_risk_assessments import SDASH, yes_to
from tests.support.apps import demo_case_ids
from tests.support.factories import events_since, last_seq, page_text, sign_in, text_by_id

POLICIES = Path(__file__).resolve().parents[2] / "policies"
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
    assert detail(body, "victim.support") == {"class": "victim.support", "partly": True,
                                              "ask": ["advocacy"], "kinds": ["safety_plan"]}
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
    assert detail(body, "victim.location")["ask"] == ["advocacy", "police"]  # see below


@pytest.mark.parametrize("username", ["nhs.clinician", "probation.officer"])
def test_whether_a_victims_address_is_on_file_is_not_told_to_perpetrator_facing_workers(
        api, session, username):
    """Knowing that an address is on file is knowing something about where she is: those
    denied victim.location are told who keeps such details, the same with or without."""
    answers = []
    for victim in ({"name": "Vera Nowhere"},
                   {"name": "Vera Somewhere", "address": "1 Hidden Way, London N1 0ZZ"}):
        case = new_case(api, members=(username,), victim=victim)
        body = api(username).get(f"/cases/{case['id']}").get_json()
        answers.append(detail(body, "victim.location"))
    assert answers[0] == answers[1] == {"class": "victim.location", "partly": False,
                                        "ask": ["advocacy", "police"]}


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


@pytest.fixture
def case_record_withheld_from_probation(app, tmp_path):
    """London's policy narrowed, as an area file may: probation reads neither party's
    identity nor the case record itself. The hub serves it as after a restart."""
    original = app.extensions["hub.policy"]
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    (copy / "areas" / "london.yaml").write_text(
        "area: london\nname: London\nrules:\n  - id: no-identities-to-probation\n"
        "    effect: deny\n    agencies: [probation]\n    actions: [read]\n"
        "    classes: [case.core, perpetrator.identity, victim.identity]\n")
    app.extensions["hub.policy"] = load_policy(copy)
    changes.reset(app)
    yield
    app.extensions["hub.policy"] = original
    changes.reset(app)


def test_the_withheld_case_record_names_the_referrer_and_each_agency_that_corrected_it(
        api, session, case_record_withheld_from_probation):
    case = new_case(api, members=("probation.officer", "advocate"))
    victim_id = case["victims"][0]["id"]
    corrected = api("advocate").patch(f"/cases/{case['id']}/people/{victim_id}",
                                      json={"name": "Vera Pagetest-Jones"})
    assert corrected.status_code == 200, corrected.get_json()
    body = api("probation.officer").get(f"/cases/{case['id']}").get_json()
    assert "perpetrator" not in body and "victims" not in body
    assert detail(body, "perpetrator.identity") == {
        "class": "perpetrator.identity", "partly": False, "ask": ["police"]}
    assert detail(body, "victim.identity") == {
        "class": "victim.identity", "partly": False, "ask": ["advocacy", "police"]}
    assert detail(body, "victim.location")["ask"] == ["advocacy", "police"]
    assert detail(body, "case.core") == {"class": "case.core", "partly": False,
                                         "ask": ["police"]}
    assert "summary" not in body and "team" not in body


@pytest.mark.parametrize("username", ["nhs.clinician", "probation.officer"])
def test_the_panel_on_a_new_case_names_nobody_for_what_nobody_holds(api, client, session,
                                                                    username):
    case = new_case(api, members=(username,))
    sign_in(client, username)
    panel = " ".join(text_by_id(html(client.get(f"/cases/{case['id']}")),
                                "withheld-list").split())
    assert "Police intelligence: nothing recorded on this case yet" in panel
    assert "held by Advocacy service, Police" in panel  # a victim's address: always
    assert "CPS" not in panel


# -- the summary at the top --------------------------------------------------------------
def test_the_summary_gives_a_busy_officer_the_essentials(client, session):
    case_id = first_case(session)
    sign_in(client, "police.officer")
    page = html(client.get(f"/cases/{case_id}"))
    assert text_by_id(page, "summary-risk").split()[0] == "High"
    assert "Set on" in text_by_id(page, "summary-risk")
    # The demo case's latest risk assessment (the advocate's S-DASH) set it.
    assert "by Advocacy service" in text_by_id(page, "summary-risk")
    assert text_by_id(page, "summary-status").strip() == "Active"
    assert text_by_id(page, "summary-review").strip() == "No review date set"
    assert text_by_id(page, "summary-orders").strip() == "1 order, 1 breach recorded"
    assert text_by_id(page, "summary-actions").strip() == "1"
    safety_plan = entry_of(session, case_id, "safety_plan")
    assert text_by_id(page, "summary-contact").strip() == uk_date(safety_plan.created_at)
    assert 'class="govuk-summary-card"' in page


def test_last_contact_is_not_shown_to_those_who_read_no_victim_support(client, session):
    sign_in(client, "nhs.clinician")
    page = html(client.get(f"/cases/{first_case(session)}"))
    assert text_by_id(page, "summary-contact") is None
    assert text_by_id(page, "summary-orders").strip() == "1 order, 1 breach recorded"


def test_the_summary_counts_what_an_author_narrowed_to_the_readers_agency(api, client, session):
    """An order police narrowed to police and advocacy is police's to count; an agency the
    author left out does not see it counted."""
    case_id = first_case(session)
    added = api("police.officer").post(f"/cases/{case_id}/notes", json={
        "body": "Interim SPO served", "class": "orders", "kind": "order",
        "restricted_to": ["police", "advocacy"]})
    assert added.status_code == 201, added.get_json()
    [listed] = [e for e in api("advocate").get(f"/cases/{case_id}/notes").get_json()["items"]
                if e["id"] == added.get_json()["id"]]
    assert (listed["author"], listed["agency"], listed["body"]) == (
        "PC Sam Ellery", "police", "Interim SPO served")
    for username, orders in (("police.officer", "2 orders"), ("nhs.clinician", "1 order")):
        sign_in(client, username)
        page = html(client.get(f"/cases/{case_id}"))
        assert text_by_id(page, "summary-orders").strip() == f"{orders}, 1 breach recorded"


def test_last_contact_is_the_latest_support_entry_not_a_risk_assessment(api, client, session):
    """A risk assessment's answers are victim.support too, but answering one is not a
    contact the page should report; nor is any entry of another class."""
    case_id = first_case(session)
    contact = date(2026, 1, 5)
    for entry in session.scalars(select(Entry).where(Entry.case_id == case_id,
                                                     Entry.info_class == "victim.support")):
        entry.created_at = entry.created_at.replace(*contact.timetuple()[:3])
    session.flush()
    assert api("advocate").post(f"/cases/{case_id}/risk-assessments", json={
        "tool": "s-dash", "answers": yes_to(SDASH, 6)}).status_code == 201
    sign_in(client, "advocate")
    page = html(client.get(f"/cases/{case_id}"))
    assert text_by_id(page, "summary-contact").strip() == uk_date(contact)


# -- entries: newest first, filtered by kind, new since the last visit ---------------------
def entry_of(session, case_id: int, kind: str) -> Entry:
    return session.scalar(select(Entry).where(Entry.case_id == case_id, Entry.kind == kind))


def entry_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'id="entry-(\d+)"', page)]


def test_entries_are_listed_newest_first(client, session):
    case_id = first_case(session)
    sign_in(client, "police.officer")
    ids = entry_ids(html(client.get(f"/cases/{case_id}")))
    made = {e.id: (e.created_at, e.id) for e in session.scalars(
        select(Entry).where(Entry.id.in_(ids)))}
    assert len(ids) > 5 and ids == sorted(ids, key=made.get, reverse=True)


def test_entries_filter_by_kind_without_javascript(client, session):
    case_id = first_case(session)
    sign_in(client, "police.officer")
    page = html(client.get(f"/cases/{case_id}", query_string={"kind": "order"}))
    assert entry_ids(page) == [entry_of(session, case_id, "order").id]
    assert '<option value="order" selected>' in page
    assert len(entry_ids(html(client.get(f"/cases/{case_id}", query_string={"kind": ""})))) > 5


@pytest.mark.parametrize("query", [{"kind": "spaceship"}, {"page": "2"}])
def test_a_filter_that_does_not_exist_is_400_with_the_field_named(client, session, query):
    sign_in(client, "police.officer")
    response = client.get(f"/cases/{first_case(session)}", query_string=query)
    assert response.status_code == 400
    assert '<a href="#kind">' in html(response)


def test_a_nul_in_the_filter_is_400(client, session):
    sign_in(client, "police.officer")
    response = client.get(f"/cases/{first_case(session)}", query_string={"kind": "a\x00b"})
    assert response.status_code == 400


@pytest.mark.parametrize(("username", "offered", "not_offered"), [
    ("police.officer", "safety_plan", "legal_advice"),
    ("nhs.clinician", "intervention", "safety_plan"),
])
def test_the_filter_offers_only_kinds_the_caller_can_see(client, session, username, offered,
                                                        not_offered):
    sign_in(client, username)
    page = html(client.get(f"/cases/{first_case(session)}"))
    assert f'<option value="{offered}">' in page and f'value="{not_offered}"' not in page


def test_entries_added_by_others_since_the_last_visit_are_marked_new(api, client, session):
    case = new_case(api, members=("advocate",))
    case_id = case["id"]
    sign_in(client, "police.officer")
    first = html(client.get(f"/cases/{case_id}"))
    assert text_by_id(first, "summary-visit").strip() == "This is your first visit"
    first_read = [e for e in events_since(0, "case:read") if e.case_id == case_id
                  and e.username == "police.officer"][-1]
    theirs = api("advocate").post(f"/cases/{case_id}/notes", json={
        "body": "Safety plan reviewed.", "class": "victim.support", "kind": "safety_plan"})
    mine = api("police.officer").post(f"/cases/{case_id}/notes", json={
        "body": "Police note.", "class": "case.core", "kind": "note"})
    second = html(client.get(f"/cases/{case_id}"))
    assert uk_datetime(first_read.at) in text_by_id(second, "summary-visit")
    assert "1 new or updated entry since" in text_by_id(second, "summary-visit")
    assert "New since your last visit" in page_text(
        text_by_id(second, f"entry-{theirs.get_json()['id']}"))
    assert "since your last visit" not in text_by_id(second, f"entry-{mine.get_json()['id']}")
    third = html(client.get(f"/cases/{case_id}"))  # this visit's own read is not counted
    assert "since your last visit" not in page_text(third)


def test_an_entry_changed_since_the_last_visit_is_marked_updated(api, client, session):
    case = new_case(api, members=("advocate",))
    note = api("advocate").post(f"/cases/{case['id']}/notes", json={
        "body": "Safety plan agreed.", "class": "victim.support", "kind": "safety_plan"})
    sign_in(client, "police.officer")
    client.get(f"/cases/{case['id']}")
    assert api("advocate").put(f"/cases/{case['id']}/notes/{note.get_json()['id']}", json={
        "body": "Safety plan changed.", "version": 1}).status_code == 200
    page = html(client.get(f"/cases/{case['id']}"))
    assert "Updated since your last visit" in page_text(
        text_by_id(page, f"entry-{note.get_json()['id']}"))


# -- plain words --------------------------------------------------------------------------
def test_labels_agencies_and_dates_are_in_plain_words(client, session):
    case_id = first_case(session)
    sign_in(client, "police.officer")
    page = html(client.get(f"/cases/{case_id}"))
    order = text_by_id(page, f"entry-{entry_of(session, case_id, 'order').id}")
    assert "Orders and breaches" in order and "(Police)" in order
    assert re.search(r"\d{1,2} [A-Z][a-z]+ 20\d\d at \d{1,2}:\d\d[ap]m", order)
    assert "<strong>orders</strong>" not in page  # codes only inside details elements
    assert "<code>orders</code>" in page
    assert "14 March 1984" in text_by_id(page, "perpetrator")
    listing = html(client.get("/cases/"))
    assert "2 September 2026" in listing and ">Active</td>" in listing
    assert ">High</td>" in listing


# -- status, risk level and next review date ----------------------------------------------
def core_form(case, **changes) -> dict:
    return {"version": str(case.version), "status": case.status,
            "risk_level": case.risk_level, "next_review_on": "", **changes}


def case_row(session, case_id: int) -> Case:
    session.expire_all()
    return session.get(Case, case_id)


def test_officer_changes_risk_and_review_date_and_sees_it_in_a_banner(client, session):
    case_id = next(iter(demo_case_ids(session).values()))
    case = case_row(session, case_id)
    sign_in(client, "police.officer")
    form = html(client.get(f"/cases/{case_id}"))  # the version the page's form carries
    version = re.search(r'name="version" value="(\d+)"', form)[1]
    seq = last_seq()
    done = client.post(f"/cases/{case_id}/core", data={
        **core_form(case, risk_level="medium", next_review_on="24/11/2027"), "version": version})
    assert done.status_code == 302 and done.headers["Location"] == f"/cases/{case_id}"
    page = html(client.get(f"/cases/{case_id}"))
    banner = page_text(page[page.index("govuk-notification-banner--success"):])
    assert "Risk level changed from high to medium. Next review date set to 24 November " \
           "2027." in banner
    after = case_row(session, case_id)
    assert (after.risk_level, after.next_review_on) == ("medium", date(2027, 11, 24))
    assert text_by_id(page, "summary-review").strip() == "24 November 2027"
    assert "by Police" in text_by_id(page, "summary-risk")
    [event] = events_since(seq, "case:update")
    assert event.details["fields"] == ["next_review_on", "risk_level"]


def test_a_stale_change_is_409_with_an_error_and_changes_nothing(client, session):
    case_id = first_case(session)
    case = case_row(session, case_id)
    sign_in(client, "police.officer")
    stale = core_form(case, risk_level="standard")
    assert client.post(f"/cases/{case_id}/core",
                       data=core_form(case, status="accepted")).status_code == 302
    response = client.post(f"/cases/{case_id}/core", data=stale)
    assert response.status_code == 409
    assert "Someone else changed this case" in text_by_id(html(response), "main-content")
    assert '<a href="#change-case">' in html(response)
    assert case_row(session, case_id).risk_level == "high"


@pytest.mark.parametrize(("changes", "field", "message"), [
    ({"next_review_on": "31/02/2027"}, "next_review_on", "Enter a real date for the next review"),
    ({"next_review_on": "next week"}, "next_review_on", "Enter a real date for the next review"),
    ({"next_review_on": "01/01/2020"}, "next_review_on", "today or in the future"),
    ({"risk_level": "extreme"}, "risk_level", "Select a risk level"),
    ({"status": "dormant"}, "status", "Select a status"),
    ({"version": "x"}, "change-case", "Reload the page"),
])
def test_an_invalid_change_is_400_naming_the_field_and_writes_nothing(client, session, changes,
                                                                      field, message):
    case_id = first_case(session)
    case = case_row(session, case_id)
    before = (case.version, case.risk_level, case.status, case.next_review_on)
    sign_in(client, "police.officer")
    seq = last_seq()
    response = client.post(f"/cases/{case_id}/core", data=core_form(case, **changes))
    assert response.status_code == 400
    body = html(response)
    assert f'<a href="#{field}">' in body and message in body
    assert "Error:" in body[:body.index("</title>")]
    after = case_row(session, case_id)
    assert (after.version, after.risk_level, after.status, after.next_review_on) == before
    assert events_since(seq, "case:update") == []


@pytest.mark.parametrize("username", ["nhs.clinician", "probation.officer", "cps.prosecutor"])
def test_those_who_may_not_write_case_core_get_no_form_and_a_403(client, session, username):
    case_id = first_case(session)
    case = case_row(session, case_id)
    sign_in(client, username)
    assert "/core" not in html(client.get(f"/cases/{case_id}"))
    seq = last_seq()
    response = client.post(f"/cases/{case_id}/core", data=core_form(case, status="closed"))
    assert response.status_code == 403
    assert case_row(session, case_id).status == "active"
    [denied] = events_since(seq, "case:update")
    assert denied.outcome == "denied" and denied.username == username


def test_the_advocate_may_change_the_case_too(client, session):
    sign_in(client, "advocate")
    case_id = first_case(session)
    assert f'action="/cases/{case_id}/core"' in html(client.get(f"/cases/{case_id}"))


# -- correcting people's details ------------------------------------------------------------
def victim_of(session, case_id: int) -> Person:
    return case_row(session, case_id).people("victim")[0]


def perpetrator_of(session, case_id: int) -> Person:
    return case_row(session, case_id).people("perpetrator")[0]


NEW_ADDRESS = "12 New Street, London N16 0ZZ"


def test_police_correct_a_victims_address_and_the_old_one_is_kept(api, client, session):
    case = new_case(api)
    victim_id = case["victims"][0]["id"]
    sign_in(client, "police.officer")
    form = html(client.get(f"/cases/{case['id']}/people/{victim_id}"))
    assert VICTIM["address"] in form and 'name="version" value="0"' in form
    seq = last_seq()
    done = client.post(f"/cases/{case['id']}/people/{victim_id}",
                       data={"address": NEW_ADDRESS, "phone": VICTIM["phone"], "email": "",
                             "workplace": "", "name": VICTIM["name"], "date_of_birth": "",
                             "version": "0"})
    assert done.status_code == 302, html(done)[:300]
    assert done.headers["Location"] == f"/cases/{case['id']}#person-{victim_id}"
    page = html(client.get(f"/cases/{case['id']}"))
    assert "The victim's address was corrected." in page_text(page)
    card = text_by_id(page, f"person-{victim_id}")
    assert NEW_ADDRESS in card and "Changed on" in card and "by Police" in card
    assert VICTIM["address"] in text_by_id(page, f"history-of-{victim_id}")  # previous value
    [event] = events_since(seq, "person:update")
    assert (event.classes, event.subject_ids) == (["victim.location"], [victim_id])
    assert event.details["fields"] == ["address"]
    assert NEW_ADDRESS not in str(event.details) and VICTIM["address"] not in str(event.details)
    change = session.scalar(select(PersonChange).where(PersonChange.person_id == victim_id))
    assert VICTIM["address"] not in change.previous_ct  # encrypted at rest, old value too
    assert change.previous() == {"address": VICTIM["address"]}
    assert victim_of(session, case["id"]).get_secret("address") == NEW_ADDRESS


def test_the_api_corrects_a_perpetrators_identifiers(api, session):
    case_id = first_case(session)
    perpetrator = perpetrator_of(session, case_id)
    response = api("police.officer").patch(
        f"/cases/{case_id}/people/{perpetrator.id}",
        json={"pnc_id": "2019/0654321Z", "nhs_number": "9876543210", "aliases": ["M. F."],
              "date_of_birth": "1984-03-15"})
    assert response.status_code == 200, response.get_json()
    [change] = response.get_json()["changes"]
    assert change["class"] == "perpetrator.identity" and change["agency"] == "police"
    assert change["fields"] == ["aliases", "date_of_birth", "nhs_number", "pnc_id"]
    body = api("nhs.clinician").get(f"/cases/{case_id}").get_json()["perpetrator"]
    assert body["pnc_id"] == "2019/0654321Z" and body["version"] == 1
    assert (body["nhs_number"], body["aliases"], body["date_of_birth"]) == (
        "9876543210", ["M. F."], "1984-03-15")
    assert body["address"] and body["address"] == perpetrator.get_secret("address")
    assert body["history"][0]["previous"] == {
        "aliases": ["Marc Fenn"], "date_of_birth": "1984-03-14", "nhs_number": "9434765919",
        "pnc_id": "2004/0112233X"}


def test_a_victims_date_of_birth_reaches_those_who_read_her_identity(api, session):
    case = new_case(api, members=("advocate", "nhs.clinician"))
    victim_id = case["victims"][0]["id"]
    assert api("advocate").patch(f"/cases/{case['id']}/people/{victim_id}",
                                 json={"date_of_birth": "1990-05-01"}).status_code == 200
    for username in ("police.officer", "nhs.clinician"):
        [victim] = api(username).get(f"/cases/{case['id']}").get_json()["victims"]
        assert (victim["name"], victim["date_of_birth"]) == (VICTIM["name"], "1990-05-01")


def test_the_page_corrects_a_perpetrator_as_people_type_it(client, session):
    case_id = first_case(session)
    perpetrator = perpetrator_of(session, case_id)
    sign_in(client, "police.officer")
    done = client.post(f"/cases/{case_id}/people/{perpetrator.id}", data={
        "nhs_number": "987 654 3210", "pnc_id": "2019/0654321z", "aliases": "Marc Fenn\n\nMF\n",
        "date_of_birth": "15/03/1984"})
    assert done.status_code == 302, html(done)[:500]
    after = perpetrator_of(session, case_id)
    assert (after.nhs_number, after.pnc_id, after.aliases, after.date_of_birth) == (
        "9876543210", "2019/0654321Z", ["Marc Fenn", "MF"], date(1984, 3, 15))


@pytest.mark.parametrize(("body", "field"), [
    ({"nhs_number": "9434765918"}, "nhs_number"),  # wrong check digit
    ({"nhs_number": "943476591"}, "nhs_number"),
    ({"pnc_id": "12345"}, "pnc_id"),
    ({"date_of_birth": "2999-01-01"}, "date_of_birth"),
    ({"date_of_birth": "1984-02-30"}, "date_of_birth"),
    ({"aliases": ["x" * 201]}, "aliases"),
    ({"name": ""}, "name"),
    ({"name": None}, "name"),
    ({"eye_colour": "blue"}, "eye_colour"),
    ({}, "body"),
    ({"version": 0}, "body"),
])
def test_invalid_corrections_are_400_naming_the_field_and_write_nothing(api, session, body,
                                                                        field):
    case_id = first_case(session)
    perpetrator = perpetrator_of(session, case_id)
    seq = last_seq()
    response = api("police.officer").patch(f"/cases/{case_id}/people/{perpetrator.id}",
                                           json=body)
    assert response.status_code == 400, response.get_json()
    assert response.get_json()["error"]["field"].split(".")[0] == field
    assert events_since(seq, "person:") == []
    assert session.scalar(select(func.count(PersonChange.id))) == 0


@pytest.mark.parametrize(("party", "body", "field"), [
    ("victim", {"pnc_id": "2019/0654321Z"}, "pnc_id"),
    ("victim", {"aliases": ["Claire H."]}, "aliases"),
    ("victim", {"nhs_number": "9876543210"}, "nhs_number"),
    ("perpetrator", {"workplace": "Somewhere"}, "workplace"),
])
def test_a_detail_the_party_does_not_have_is_400(api, session, party, body, field):
    case_id = first_case(session)
    person = {"victim": victim_of, "perpetrator": perpetrator_of}[party](session, case_id)
    response = api("police.officer").patch(f"/cases/{case_id}/people/{person.id}", json=body)
    assert response.status_code == 400 and response.get_json()["error"]["field"] == field


def test_the_page_names_the_field_in_gov_uk_words(client, session):
    case_id = first_case(session)
    perpetrator = perpetrator_of(session, case_id)
    sign_in(client, "police.officer")
    response = client.post(f"/cases/{case_id}/people/{perpetrator.id}",
                           data={"nhs_number": "943 476 5918", "date_of_birth": "30/02/1984"})
    assert response.status_code == 400
    body = html(response)
    assert '<a href="#nhs_number">Enter a valid 10-digit NHS number' in body
    assert '<a href="#date_of_birth">Enter a real date of birth' in body
    assert 'value="943 476 5918"' in body  # what they typed, to put right
    assert session.scalar(select(func.count(PersonChange.id))) == 0


@pytest.mark.parametrize(("username", "party", "body"), [
    ("nhs.clinician", "victim", {"address": NEW_ADDRESS}),
    ("probation.officer", "victim", {"phone": "07700 900111"}),
    ("cps.prosecutor", "victim", {"email": "new@example.org"}),
    ("cps.prosecutor", "victim", {"name": "Claire Holt"}),
    ("nhs.clinician", "perpetrator", {"pnc_id": "2019/0654321Z"}),
    ("probation.officer", "perpetrator", {"nhs_number": "9876543210"}),
    ("advocate", "perpetrator", {"aliases": ["MF"]}),
    ("police.officer", "victim", {"name": "Claire Holt", "pnc_id": "2019/0654321Z"}),
])
def test_only_those_who_may_write_the_class_correct_it(api, session, username, party, body):
    case_id = first_case(session)
    person = {"victim": victim_of, "perpetrator": perpetrator_of}[party](session, case_id)
    response = api(username).patch(f"/cases/{case_id}/people/{person.id}", json=body)
    assert response.status_code in (400, 403), response.get_json()
    assert session.scalar(select(func.count(PersonChange.id))) == 0
    assert victim_of(session, case_id).name == "Claire Example-Holt"


@pytest.mark.parametrize(("username", "party", "status"), [
    ("nhs.clinician", "victim", 403), ("cps.prosecutor", "victim", 403),
    ("advocate", "perpetrator", 403), ("advocate", "victim", 200),
    ("police.officer", "perpetrator", 200), ("outsider.officer", "victim", 404),
])
def test_the_correction_page_opens_only_for_those_who_may_correct(client, session, username,
                                                                  party, status):
    case_id = first_case(session)
    person = {"victim": victim_of, "perpetrator": perpetrator_of}[party](session, case_id)
    sign_in(client, username)
    response = client.get(f"/cases/{case_id}/people/{person.id}")
    assert response.status_code == status
    case_page = html(client.get(f"/cases/{case_id}"))
    assert (f"/people/{person.id}" in case_page) == (status == 200)


def test_a_person_of_another_case_is_404(api, session):
    ids = list(demo_case_ids(session).values())
    other = victim_of(session, ids[1])
    response = api("police.officer").patch(f"/cases/{ids[0]}/people/{other.id}",
                                           json={"phone": "07700 900111"})
    assert response.status_code == 404


def test_a_stale_correction_is_409(api, client, session):
    case_id = first_case(session)
    victim = victim_of(session, case_id)
    path = f"/cases/{case_id}/people/{victim.id}"
    assert api("advocate").patch(path, json={"phone": "07700 900111", "version": 0}) \
        .status_code == 200
    stale = api("police.officer").patch(path, json={"phone": "07700 900222", "version": 0})
    assert stale.status_code == 409 and stale.get_json()["error"]["field"] == "version"
    sign_in(client, "police.officer")
    page = client.post(path, data={"phone": "07700 900222", "version": "0"})
    assert page.status_code == 409
    assert "changed by someone else" in html(page) and 'name="version" value="1"' in html(page)
    assert victim_of(session, case_id).get_secret("phone") == "07700 900111"


def test_a_closed_case_is_read_only_for_peoples_details(api, session):
    case_id = first_case(session)
    version = api("police.officer").get(f"/cases/{case_id}").get_json()["version"]
    assert api("police.officer").patch(f"/cases/{case_id}", json={
        "version": version, "status": "closed",
        "closure_reason": "Order in place; no contact for six months."}).status_code == 200
    victim = victim_of(session, case_id)
    response = api("police.officer").patch(f"/cases/{case_id}/people/{victim.id}",
                                           json={"phone": "07700 900111"})
    assert response.status_code == 403


def test_history_is_shown_only_for_classes_the_reader_may_read(api, session):
    case_id = first_case(session)
    victim = victim_of(session, case_id)
    assert api("police.officer").patch(f"/cases/{case_id}/people/{victim.id}", json={
        "name": "Claire Holt", "address": NEW_ADDRESS}).status_code == 200
    police = api("police.officer").get(f"/cases/{case_id}").get_json()["victims"][0]
    assert sorted(h["class"] for h in police["history"]) == ["victim.identity",
                                                            "victim.location"]
    for username in ("cps.prosecutor", "nhs.clinician", "probation.officer"):
        victim_body = api(username).get(f"/cases/{case_id}").get_json()["victims"][0]
        assert [h["class"] for h in victim_body["history"]] == ["victim.identity"], username
        assert victim_body["history"][0]["previous"] == {"name": "Claire Example-Holt"}
        assert victim_body["version"] == 1


def test_the_page_says_who_changed_what_only_to_readers_of_its_class(api, client, session):
    case_id = first_case(session)
    victim = victim_of(session, case_id)
    assert api("advocate").patch(f"/cases/{case_id}/people/{victim.id}", json={
        "name": "Claire Holt", "phone": "07700 900111"}).status_code == 200
    sign_in(client, "cps.prosecutor")
    page = html(client.get(f"/cases/{case_id}"))
    card = " ".join(text_by_id(page, f"person-{victim.id}").split())
    assert "Claire Holt Changed on" in card and "by Advocacy service" in card
    history = text_by_id(page, f"history-of-{victim.id}")
    assert "Claire Example-Holt" in history and "Phone" not in history
    assert "07700 900" not in page
    client.post("/sign-out")
    sign_in(client, "police.officer")
    history = text_by_id(html(client.get(f"/cases/{case_id}")), f"history-of-{victim.id}")
    assert "Phone" in history and "07700 900123" in history  # the number it replaced


def test_the_banner_names_the_details_corrected_in_plain_words(client, session):
    case_id = first_case(session)
    perpetrator = perpetrator_of(session, case_id)
    sign_in(client, "police.officer")
    client.post(f"/cases/{case_id}/people/{perpetrator.id}",
                data={"nhs_number": "9876543210", "pnc_id": "2019/0654321Z"})
    assert "The perpetrator's NHS number and PNC ID were corrected." in page_text(
        html(client.get(f"/cases/{case_id}")))


@pytest.mark.parametrize("username", ["nhs.clinician", "probation.officer"])
def test_the_victims_old_address_never_reaches_perpetrator_facing_workers(api, client, session,
                                                                       username):
    case_id = first_case(session)
    victim = victim_of(session, case_id)
    old = victim.get_secret("address")
    assert api("police.officer").patch(f"/cases/{case_id}/people/{victim.id}", json={
        "address": NEW_ADDRESS, "name": "Claire Holt"}).status_code == 200
    sign_in(client, username)
    bodies = [client.get(f"/cases/{case_id}"), client.get("/cases/"),
              client.get("/cases/", query_string={"q": "Flat 3"}),
              client.get(f"/cases/{case_id}/people/{victim.id}"),
              client.post(f"/cases/{case_id}/people/{victim.id}", data={"address": "x"}),
              api(username).get(f"/cases/{case_id}"), api(username).get(f"/cases/{case_id}/notes"),
              api(username).get("/cases?q=Example"),
              api(username).patch(f"/cases/{case_id}/people/{victim.id}",
                                  json={"address": old})]
    for response in bodies:
        text = response.get_data(as_text=True)
        assert old not in text and NEW_ADDRESS not in text, response.request.path
        assert "12 Example Road" not in text and "New Street" not in text
    assert victim_of(session, case_id).get_secret("address") == NEW_ADDRESS


def test_erasure_destroys_the_replaced_values_too(api, session):
    case = new_case(api)
    victim_id = case["victims"][0]["id"]
    assert api("police.officer").patch(f"/cases/{case['id']}/people/{victim_id}", json={
        "address": NEW_ADDRESS}).status_code == 200
    erased = api("dpo").post(f"/people/{victim_id}/erasure",
                             json={"ground": "erasure-request", "confirm": victim_id})
    assert erased.status_code == 201, erased.get_json()
    session.expire_all()
    change = session.scalar(select(PersonChange).where(PersonChange.person_id == victim_id))
    assert change.previous() == {}
    with pytest.raises(Exception):  # noqa: B017 -- the key is gone: nothing can decrypt it
        crypto.decrypt(change.person.data_key.plain(), change.previous_ct, change._context())
    victim = api("police.officer").get(f"/cases/{case['id']}").get_json()["victims"][0]
    assert victim["history"][0]["previous"] == {} and victim["address"] is None
    response = api("police.officer").patch(f"/cases/{case['id']}/people/{victim_id}",
                                           json={"phone": "07700 900111"})
    assert response.status_code == 409


def test_the_correction_form_is_an_audited_read(client, session):
    case_id = first_case(session)
    victim = victim_of(session, case_id)
    sign_in(client, "advocate")
    seq = last_seq()
    assert client.get(f"/cases/{case_id}/people/{victim.id}").status_code == 200
    [event] = events_since(seq, "person:read")
    assert event.classes == ["victim.identity", "victim.location"]
    assert event.subject_ids == [victim.id]
