"""Issue 10, defect 3's safety net: free text that an agency not entitled to the victim's
location would read must not hold the case's own victims' address, phone, email or
workplace, however it is spelt. Tested with the demo victim's real values."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from hub.auditlog.models import AuditEvent
from hub.cases import location_guard
from hub.cases.location_guard import Location
from hub.cases.models import Case, Entry
from hub.extensions import db
from tests.support.factories import events_since, last_seq, sign_in, text_by_id
from tests.support.matrix import demo_cases

CLAIRE = [Location(1, "address", "Flat 3, 12 Example Road, London E1 0ZZ"),
          Location(1, "phone", "07700 900123"),
          Location(1, "email", "claire.holt@example.org"),
          Location(1, "workplace", "Example Library, London EC1 0ZZ")]

LEAKS = [
    ("Flat 3, 12 Example Road, London E1 0ZZ", "address"),
    ("He was seen outside 12 Example Road at 9pm.", "address"),
    ("seen near 12 example rd.", "address"),
    ("Loitering on EXAMPLE ROAD again", "address"),
    ("12-Example-Road", "address"),
    ("postcode e1 0zz", "address"),
    ("postcode E10ZZ", "address"),
    ("(E1 0ZZ)", "address"),
    ("call her on 07700900123", "phone"),
    ("call her on 07700 900123", "phone"),
    ("call her on +44 7700 900123", "phone"),
    ("call her on +447700900123", "phone"),
    ("call her on 07700-900-123", "phone"),
    ("call her on (07700) 900 123", "phone"),
    ("call her on 0044 7700 900123", "phone"),
    ("write to CLAIRE.HOLT@EXAMPLE.ORG", "email"),
    ("write to claire.holt@example.org.", "email"),
    ("write to Claire Holt @ example.org", "email"),
    ("She works at Example Library.", "workplace"),
    ("she works at the example-library", "workplace"),
    ("near EC1 0ZZ", "workplace"),
    ("Ec10zz", "workplace"),
]

HARMLESS = [
    "Victim lives in London.",
    "The Road Traffic Act applies.",
    "Seen on a main road near a library in London.",
    "Example given at the meeting.",
    "Flat 3 was mentioned in interview.",
    "12 previous incidents; call the office on 020 7946 0000.",
    "Email the team at stac@example.org.",
    "Claire is anxious about court.",
    "E1 is the perpetrator's own area code: E1 0ZY is nearby.",
    "Reference 07700 90012 is incomplete.",
]


@pytest.mark.parametrize(("text", "field"), LEAKS)
def test_every_spelling_of_a_location_is_found(text, field):
    assert {loc.field for loc in location_guard.found(text, CLAIRE)} == {field}


@pytest.mark.parametrize("text", HARMLESS)
def test_ordinary_words_are_not_a_location(text):
    assert location_guard.found(text, CLAIRE) == []


def test_values_with_nothing_distinctive_find_nothing():
    vague = [Location(2, "address", "London"), Location(2, "workplace", "The Library"),
             Location(2, "phone", "999")]
    assert location_guard.found("She lives in London and works at the library; 999.",
                                vague) == []


# -- through the hub ---------------------------------------------------------------------------
def _first(session):
    return demo_cases(session)[0]  # Claire Example-Holt's case, London


def _entries() -> int:
    return db.session.scalar(select(func.count(Entry.id)))


@pytest.mark.parametrize("body", [text for text, _f in LEAKS[::3]])
def test_a_note_that_nhs_and_probation_would_read_is_refused(api, session, body):
    case = _first(session)
    before, seq = _entries(), last_seq()
    refused = api("police.officer").post(f"/cases/{case.id}/notes",
                                         json={"body": body, "class": "orders"})
    assert refused.status_code == 400, refused.json
    error = refused.json["error"]
    assert error["field"] == "body"
    assert "NHS, Probation and CPS would see it" in error["message"]
    assert "Police and Advocacy service" in error["message"]  # whom it may be narrowed to
    assert _entries() == before and events_since(seq, "entry:") == []


def test_narrowed_to_agencies_entitled_to_the_location_it_is_accepted(api, session):
    case = _first(session)
    body = "Exclusion zone: 500 m around Flat 3, 12 Example Road, London E1 0ZZ."
    done = api("police.officer").post(f"/cases/{case.id}/notes", json={
        "body": body, "class": "orders", "restricted_to": ["police", "advocacy"]})
    assert done.status_code == 201, done.json
    nhs = api("nhs.clinician").get(f"/cases/{case.id}/notes").json
    assert "Example Road" not in json.dumps(nhs)


def test_narrowed_to_include_a_perpetrator_facing_agency_it_is_refused(api, session):
    case = _first(session)
    refused = api("advocate").post(f"/cases/{case.id}/notes", json={
        "body": "Her new number is 07700 900123.", "class": "case.core",
        "restricted_to": ["police", "probation"]})
    assert refused.status_code == 400
    assert "Probation would see it" in refused.json["error"]["message"]


@pytest.mark.parametrize(("username", "info_class", "kind"), [
    ("police.officer", "victim.location", "note"),
    ("advocate", "victim.support", "note"),
    ("advocate", "victim.support", "safety_plan"),  # police read safety plans: entitled
    ("police.officer", "intelligence", "intelligence"),
])
def test_classes_only_entitled_agencies_read_may_hold_the_location(api, session, username,
                                                                   info_class, kind):
    case = _first(session)
    done = api(username).post(f"/cases/{case.id}/notes", json={
        "body": "Safe route from Example Library to 12 Example Road; phone 07700 900123.",
        "class": info_class, "kind": kind})
    assert done.status_code == 201, done.json


def test_ordinary_words_go_through(api, session):
    case = _first(session)
    done = api("police.officer").post(f"/cases/{case.id}/notes", json={
        "body": "Breach on a London road near a library; victim informed.", "class": "orders"})
    assert done.status_code == 201, done.json


def test_another_cases_victim_is_not_this_cases_business(api, session):
    other = demo_cases(session)[1]  # Amira Testwell's address is not in Claire's case
    done = api("police.officer").post(f"/cases/{_first(session).id}/notes", json={
        "body": "Perpetrator's cousin lives at 44 Placeholder Lane.", "class": "orders"})
    assert done.status_code == 201, (other.reference, done.json)


def test_an_edit_that_adds_the_location_is_refused(api, session):
    case = _first(session)
    note = api("police.officer").post(f"/cases/{case.id}/notes",
                                      json={"body": "Breach recorded.", "class": "orders"})
    assert note.status_code == 201
    refused = api("police.officer").put(f"/cases/{case.id}/notes/{note.json['id']}", json={
        "body": "Breach recorded outside 12 Example Road.", "version": 1})
    assert refused.status_code == 400 and refused.json["error"]["field"] == "body"
    session.expire_all()
    assert session.get(Entry, note.json["id"]).version == 1


def test_a_case_summary_with_the_victims_location_is_refused_on_create(api, session):
    cases = db.session.scalar(select(func.count(Case.id)))
    refused = api("police.officer").post("/cases", json={
        "perpetrator": {"name": "Pat Guardtest"}, "summary": "Victim at 5 Quiet Mews, ZZ3 3ZZ.",
        "victims": [{"name": "Val Guardtest", "address": "5 Quiet Mews, London ZZ3 3ZZ"}]})
    assert refused.status_code == 400, refused.json
    assert refused.json["error"]["field"] == "summary"
    assert "NHS, Probation and CPS would see it" in refused.json["error"]["message"]
    assert db.session.scalar(select(func.count(Case.id))) == cases


def test_a_case_summary_with_the_victims_location_is_refused_on_update(api, session):
    case = _first(session)
    version = api("police.officer").get(f"/cases/{case.id}").json["version"]
    refused = api("police.officer").patch(f"/cases/{case.id}", json={
        "version": version, "summary": "Victim moved; new email claire.holt@example.org"})
    assert refused.status_code == 400 and refused.json["error"]["field"] == "summary"
    assert api("police.officer").get(f"/cases/{case.id}").json["version"] == version
    done = api("police.officer").patch(f"/cases/{case.id}", json={
        "version": version, "summary": "Victim moved; new contact details held by police."})
    assert done.status_code == 200, done.json


def test_the_note_page_shows_the_refusal_on_the_field(client, session):
    case = _first(session)
    sign_in(client, "police.officer")
    refused = client.post(f"/cases/{case.id}/notes/new", data={
        "type": "note:orders", "body": "Seen at Example Library today."})
    assert refused.status_code == 400
    markup = refused.get_data(as_text=True)
    assert 'href="#body"' in markup  # the error summary
    message = text_by_id(markup, "body-error")
    assert message.startswith("Error: The note contains the victim's workplace")
    assert "NHS, Probation and CPS would see it" in message
    assert "govuk-textarea--error" in markup and "Seen at Example Library today." in markup


def test_the_new_case_page_shows_the_refusal_on_the_summary(client, session):
    sign_in(client, "police.officer")
    refused = client.post("/cases/new", data={
        "perpetrator_name": "Pat Formtest", "victim_name": "Val Formtest",
        "victim_phone": "07700 900999", "risk_level": "medium",
        "summary": "Victim reachable on +44 7700 900999."})
    assert refused.status_code == 400
    assert "would see it" in text_by_id(refused.get_data(as_text=True), "summary-error")


def test_an_author_who_may_not_see_the_location_is_not_told_it(api, session):
    """DOMAIN rule 3: an NHS clinician learns nothing about the victim's location, not even
    from a refusal; the note is kept and a DPO can find it in the audit log."""
    case = _first(session)
    seq = last_seq()
    done = api("nhs.clinician").post(f"/cases/{case.id}/notes", json={
        "body": "He says she still lives at 12 Example Road.", "class": "clinical.summary"})
    assert done.status_code == 201, done.json
    flags = [e for e in events_since(seq) if e.action == "location-guard:flag"]
    assert len(flags) == 1
    flag = flags[0]
    assert flag.case_id == case.id and flag.username == "nhs.clinician"
    assert flag.details == {"field": "body", "agencies": ["nhs", "probation"],
                            "found": ["address"]}
    assert flag.subject_ids == [case.victims[0][0]]
    assert "Example" not in json.dumps(flag.details)
    assert db.session.scalar(select(func.count(AuditEvent.seq)).where(
        AuditEvent.seq > seq, AuditEvent.action == "entry:create")) == 1
