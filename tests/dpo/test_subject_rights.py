"""Subject access, exemptions, rectification, retention and erasure, driven as users would.

The scenario: several users work two cases, one breaks glass, a DPO exports; the victim's
subject access bundle lists every consultation of her data and nothing about anyone else.
After erasure her data is unreadable, the audit log is untouched, and the bundle says so.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import select, text, update
from sqlalchemy.exc import DatabaseError

from hub.auditlog.models import AuditEvent
from hub.cases.models import BreakGlassGrant, Case, DataKey, Person
from hub.crypto import KeyDestroyed
from hub.dpo.models import Erasure
from tests.dpo.conftest import events_after, last_seq

VICTIM = {"name": "Vera Scenario-Subject", "address": "11 Hidden Mews, London ZZ1 1ZZ",
          "phone": "07700 900777", "email": "vera@example.org"}
OTHER_VICTIM = {"name": "Wanda Otherperson", "address": "99 Elsewhere Road, ZZ9 9ZZ"}
PERPETRATOR = {"name": "Percy Scenario-Perp", "address": "5 Perp Lane, ZZ5 5ZZ"}
OTHER_PERP = {"name": "Quentin Otherperp"}
NOTE_V1 = "Vera asked for a call-back before 5pm; spoke to her at work."
NOTE_V2 = "Vera asked for a call-back before 6pm (corrected); spoke to her at home."


def _case(api, perpetrator, victim) -> dict:
    response = api("police.officer").post("/cases", json={
        "perpetrator": perpetrator, "victims": [victim], "summary": "Scenario case"})
    assert response.status_code == 201, response.json
    return api("police.officer").get(f"/cases/{response.json['id']}").json


def _scenario(api) -> dict:
    """Returns the ids; runs every kind of access the bundle must (or must not) list."""
    a, b = _case(api, PERPETRATOR, VICTIM), _case(api, OTHER_PERP, OTHER_VICTIM)
    victim = a["victims"][0]["id"]
    for username in ("nhs.clinician", "advocate"):
        assert api("police.officer").post(f"/cases/{a['id']}/members",
                                          json={"username": username}).status_code == 201
    for username in ("nhs.clinician", "advocate", "police.officer"):
        assert api(username).get(f"/cases/{a['id']}").status_code == 200
    note = api("advocate").post(f"/cases/{a['id']}/notes", json={
        "body": NOTE_V1, "class": "victim.support", "subject_person_id": victim})
    assert note.status_code == 201, note.json
    edited = api("advocate").put(f"/cases/{a['id']}/notes/{note.json['id']}",
                                 json={"body": NOTE_V2, "version": 1})
    assert edited.status_code == 200, edited.json
    for case in (a, b):
        assert api("police.supervisor").post(f"/cases/{case['id']}/break-glass", json={
            "reason": "Urgent risk review after a 999 call"}).status_code == 200
        assert api("police.supervisor").get(f"/cases/{case['id']}").status_code == 200
    assert api("outsider.officer").get(f"/cases/{a['id']}").status_code == 404
    assert api("dpo").get(f"/audit/events.csv?case_id={a['id']}").status_code == 200
    api("police.officer").get(f"/cases/{b['id']}")
    return {"a": a, "b": b, "victim": victim, "perp": a["perpetrator"]["id"],
            "note": note.json["id"]}


def _expected_disclosures(session, person_id: int) -> list[int]:
    """Independently of the bundle: allowed events whose subjects include the person."""
    rows = session.execute(select(AuditEvent.seq, AuditEvent.subject_ids, AuditEvent.outcome)
                           .order_by(AuditEvent.seq))
    return [seq for seq, subjects, outcome in rows
            if outcome == "allowed" and person_id in (subjects or [])]


def test_bundle_lists_every_consultation_and_nothing_about_anyone_else(api, session):
    ids = _scenario(api)
    expected = _expected_disclosures(session, ids["victim"])
    seq = last_seq()
    response = api("dpo").get(f"/people/{ids['victim']}/subject-access")
    assert response.status_code == 200
    bundle = response.json
    assert [d["seq"] for d in bundle["disclosures"]] == expected
    who = {(d["username"], d["action"]) for d in bundle["disclosures"]}
    assert who >= {("police.officer", "case:create"), ("nhs.clinician", "case:read"),
                   ("advocate", "case:read"), ("police.supervisor", "case:read"),
                   ("advocate", "entry:create")}
    assert all(d["case_id"] == ids["a"]["id"] for d in bundle["disclosures"])
    assert all(d["username"] != "outsider.officer" for d in bundle["disclosures"])
    nhs = [d for d in bundle["disclosures"] if d["agency"] == "nhs"]
    assert nhs and all("victim.location" not in d["classes"] for d in nhs)
    glass = [d for d in bundle["disclosures"] if d["purpose"] == "break-glass"]
    assert glass and all(d["role"] == "supervisor" for d in glass)
    for d in bundle["disclosures"]:
        assert set(d) >= {"at", "username", "agency", "role", "action", "classes", "purpose"}
    assert bundle["data"]["victim.identity"]["name"] == VICTIM["name"]
    assert bundle["data"]["victim.location"]["address"] == VICTIM["address"]
    dumped = json.dumps(bundle)
    for other in (OTHER_VICTIM["name"], OTHER_VICTIM["address"], OTHER_PERP["name"],
                  PERPETRATOR["name"], PERPETRATOR["address"], ids["b"]["reference"]):
        assert other not in dumped
    [event] = events_after(seq)
    assert (event.action, event.subject_ids, event.purpose) == (
        "subject-access:read", [ids["victim"]], "subject-access")


def test_rectified_entry_keeps_its_old_version_marked_corrected(api, session):
    ids = _scenario(api)
    bundle = api("dpo").get(f"/people/{ids['victim']}/subject-access").json
    [entry] = bundle["data"]["entries"]
    assert [(v["version"], v["corrected"], v["content"]["body"]) for v in entry["versions"]] \
        == [(1, True, NOTE_V1), (2, False, NOTE_V2)]
    notes = api("advocate").get(f"/cases/{ids['a']['id']}/notes").json
    assert NOTE_V2 in json.dumps(notes)


def test_exemption_withholds_a_class_with_its_reason(api, session):
    ids = _scenario(api)
    path = f"/people/{ids['victim']}/exemptions"
    reason = "DPA 2018 s.45(4): disclosure would prejudice an ongoing investigation"
    assert api("dpo").post(path, json={"class": "astrology", "reason": reason}) \
        .json["error"]["field"] == "class"
    assert api("dpo").post(path, json={"class": "victim.support", "reason": "no"}) \
        .json["error"]["field"] == "reason"
    assert api("dpo").post(path, json={"class": "victim.support"}).status_code == 400
    seq = last_seq()
    assert api("dpo").post(path, json={"class": "victim.support", "reason": reason}) \
        .status_code == 201
    [event] = events_after(seq)
    assert event.action == "subject-access:exemption" and event.details["class"] == "victim.support"
    assert api("dpo").post(path, json={"class": "victim.support", "reason": reason}) \
        .status_code == 409
    bundle = api("dpo").get(f"/people/{ids['victim']}/subject-access").json
    assert bundle["data"]["entries"] == [] and NOTE_V2 not in json.dumps(bundle)
    assert [(x["class"], x["reason"]) for x in bundle["exemptions"]] == [
        ("victim.support", reason)]
    assert api("dpo").post("/people/999999/exemptions",
                           json={"class": "victim.support", "reason": reason}).status_code == 404


def test_erasure_destroys_the_data_and_keeps_the_log(api, session):
    ids = _scenario(api)
    victim = session.get(Person, ids["victim"])
    key_id, backup_ct = victim.data_key_id, victim.address_ct
    log_before = session.execute(text("SELECT * FROM audit_events ORDER BY seq")).all()
    path = f"/people/{ids['victim']}/erasure"
    assert api("dpo").post(path, json={"ground": "retention", "confirm": ids["perp"]}) \
        .json["error"]["field"] == "confirm"
    assert api("dpo").post(path, json={"ground": "whim", "confirm": ids["victim"]}) \
        .json["error"]["field"] == "ground"
    seq = last_seq()
    erased = api("dpo").post(path, json={"ground": "erasure-request", "confirm": ids["victim"]})
    assert erased.status_code == 201, erased.json
    assert set(erased.json["what"]) >= {"victim.identity", "victim.location", "victim.support"}
    session.expire_all()
    assert session.get(DataKey, key_id).wrapped is None
    victim = session.get(Person, ids["victim"])
    assert (victim.name, victim.address_ct, victim.phone_ct) == (None, None, None)
    with pytest.raises(KeyDestroyed):  # a backup copy of the ciphertext is now useless
        victim.data_key.plain()
    assert backup_ct is not None
    reasons = session.scalars(select(BreakGlassGrant.reason).where(
        BreakGlassGrant.case_id == ids["a"]["id"])).all()
    assert reasons == [""]
    other = session.scalars(select(BreakGlassGrant.reason).where(
        BreakGlassGrant.case_id == ids["b"]["id"])).all()
    assert other == ["Urgent risk review after a 999 call"]
    log_after = session.execute(text("SELECT * FROM audit_events ORDER BY seq")).all()
    assert log_after[:len(log_before)] == log_before  # audit rows are never updated
    assert [e.action for e in events_after(seq)] == ["person:erase"]
    case = api("police.officer").get(f"/cases/{ids['a']['id']}").json
    assert case["victims"][0]["name"] is None and case["victims"][0]["address"] is None
    assert VICTIM["name"] not in json.dumps(case) and NOTE_V1 not in json.dumps(
        api("advocate").get(f"/cases/{ids['a']['id']}/notes").json)
    bundle = api("dpo").get(f"/people/{ids['victim']}/subject-access").json
    [erasure] = bundle["erasures"]
    assert erasure["ground"] == "erasure-request" and erasure["at"] == bundle["person"]["erased_at"]
    dumped = json.dumps(bundle["data"])
    assert VICTIM["name"] not in dumped and VICTIM["address"] not in dumped
    assert NOTE_V1 not in dumped and NOTE_V2 not in dumped
    assert len(bundle["disclosures"]) >= len(_expected_disclosures(session, ids["victim"])) - 1
    again = api("dpo").post(path, json={"ground": "retention", "confirm": ids["victim"]})
    assert again.status_code == 409


def test_erasure_records_are_append_only(api, session):
    ids = _scenario(api)
    api("dpo").post(f"/people/{ids['victim']}/erasure",
                    json={"ground": "retention", "confirm": ids["victim"]})
    for statement in (update(Erasure).values(ground="tampered"), text("DELETE FROM dpo_erasures")):
        with pytest.raises(DatabaseError), session.begin_nested():
            session.execute(statement)
    assert session.scalar(select(Erasure.ground)) == "retention"


def test_retention_queue_lists_people_whose_cases_closed_long_ago(api, session):
    ids = _scenario(api)
    assert all(r["person_id"] != ids["victim"]
               for r in api("dpo").get("/dpo/retention/queue").json["items"])
    case = session.get(Case, ids["a"]["id"])
    case.status, case.closed_on = "closed", case.referred_on - timedelta(days=365 * 7)
    session.flush()
    queue = api("dpo").get("/dpo/retention/queue").json["items"]
    due = {r["person_id"] for r in queue}
    assert {ids["victim"], ids["perp"]} <= due
    api("dpo").post(f"/people/{ids['victim']}/erasure",
                    json={"ground": "retention", "confirm": ids["victim"]})
    due = {r["person_id"] for r in api("dpo").get("/dpo/retention/queue").json["items"]}
    assert ids["victim"] not in due and ids["perp"] in due


def test_unknown_person_is_a_404_and_audited(api, session):
    seq = last_seq()
    assert api("dpo").get("/people/999999/subject-access").status_code == 404
    assert api("dpo").post("/people/999999/erasure",
                           json={"ground": "retention", "confirm": 999999}).status_code == 404
    assert [e.outcome for e in events_after(seq)] == ["denied", "denied"]
