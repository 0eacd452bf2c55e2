"""Subject access, exemptions, rectification, retention and erasure, driven as users would.

The scenario: several users work two cases, one breaks glass, a DPO exports; the victim's
subject access bundle lists every consultation of her data and nothing about anyone else.
After erasure her data is unreadable, the audit log is untouched, and the bundle says so.
"""

from __future__ import annotations

import json
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.exc import DatabaseError

from hub.auditlog.models import AuditEvent
from hub.cases.models import BreakGlassGrant, Case, DataKey, Person
from hub.crypto import KeyDestroyed
from hub.dpo.models import Erasure, Exemption
from tests.support.factories import events_since, last_seq

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
    [event] = events_since(seq)
    assert (event.action, event.subject_ids, event.purpose) == (
        "subject-access:read", [ids["victim"]], "subject-access")


def test_a_perpetrators_bundle_holds_his_identity_address_and_case(api, session):
    ids = _scenario(api)
    corrected = api("police.officer").patch(
        f"/cases/{ids['a']['id']}/people/{ids['perp']}",
        json={"pnc_id": "2019/0654321Z", "nhs_number": "9876543210", "aliases": ["P. S."],
              "date_of_birth": "1980-02-29", "online_identifiers": ["@percy_sp"]})
    assert corrected.status_code == 200, corrected.json
    seq = last_seq()
    bundle = api("dpo").get(f"/people/{ids['perp']}/subject-access").json
    assert bundle["person"] == {"id": ids["perp"], "erased_at": None}
    identity = bundle["data"]["perpetrator.identity"]
    assert identity == {"name": PERPETRATOR["name"], "date_of_birth": "1980-02-29",
                        "aliases": ["P. S."], "online_identifiers": ["@percy_sp"],
                        "pnc_id": "2019/0654321Z", "nhs_number": "9876543210",
                        "address": PERPETRATOR["address"], "phone": None, "email": None,
                        "workplace": None, "safe_contact": None}
    assert bundle["data"]["cases"] == [{"case_id": ids["a"]["id"], "party": "perpetrator",
                                        "reference": ids["a"]["reference"], "referral": None}]
    assert "victim.identity" not in bundle["data"] and "victim.location" not in bundle["data"]
    [event] = events_since(seq)  # what the bundle disclosed: not the note, about her
    assert (event.classes, event.subject_ids) == (["perpetrator.identity"], [ids["perp"]])
    other = api("dpo").get(f"/people/{ids['b']['perpetrator']['id']}/subject-access").json
    assert set(other["data"]["perpetrator.identity"]) == {  # no address on file: none shown
        "name", "date_of_birth", "aliases", "online_identifiers", "pnc_id", "nhs_number"}


def test_rectified_entry_keeps_its_old_version_marked_corrected(api, session):
    ids = _scenario(api)
    bundle = api("dpo").get(f"/people/{ids['victim']}/subject-access").json
    [entry] = bundle["data"]["entries"]
    assert (entry["id"], entry["class"], entry["kind"]) == (ids["note"], "victim.support",
                                                            "note")
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
    [event] = events_since(seq)
    assert event.action == "subject-access:exemption" and event.details["class"] == "victim.support"
    assert api("dpo").post(path, json={"class": "victim.support", "reason": reason}) \
        .status_code == 409
    bundle = api("dpo").get(f"/people/{ids['victim']}/subject-access").json
    assert bundle["data"]["entries"] == [] and NOTE_V2 not in json.dumps(bundle)
    assert [(x["class"], x["reason"]) for x in bundle["exemptions"]] == [
        ("victim.support", reason)]
    [exemption] = bundle["exemptions"]
    assert exemption["id"] == session.scalar(select(Exemption.id).where(
        Exemption.person_id == ids["victim"]))
    assert exemption["applied_at"][:10] == event.at.date().isoformat()
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
    assert [e.action for e in events_since(seq)] == ["person:erase"]
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
    assert [e.outcome for e in events_since(seq)] == ["denied", "denied"]


# -- issue 10, defect 2: every entry reaches the people it is about ---------------------------
SUPPORT_NOTE = "Vera wants calls only after 6pm; counselling referral made."
WEB_NOTE = "Spoke to Vera by phone; she feels safer since the alarm was fitted."
ORDER_NOTE = "Percy served with the interim SPO today."


def _bundle(api, person_id: int) -> dict:
    response = api("dpo").get(f"/people/{person_id}/subject-access")
    assert response.status_code == 200, response.json
    return response.json


def _bodies(bundle: dict) -> list[str | None]:
    return [(v["content"] or {}).get("body") for e in bundle["data"]["entries"]
            for v in e["versions"]]


def _web_note(client, case_id: int, username: str, choice: str, body: str, **extra) -> None:
    client.post("/sign-out")
    response = client.post("/sign-in", data={"username": username,
                                             "password": "demo-password-2026"})
    assert response.status_code == 302
    done = client.post(f"/cases/{case_id}/notes/new",
                       data={"type": choice, "body": body, **extra})
    assert done.status_code == 302, done.get_data(as_text=True)[:2000]


def _members(api, case_id: int, *usernames: str) -> None:
    for username in usernames:
        assert api("police.officer").post(f"/cases/{case_id}/members",
                                          json={"username": username}).status_code == 201


def test_notes_from_the_pages_and_the_api_reach_the_people_they_are_about(api, client,
                                                                          session):
    a = _case(api, PERPETRATOR, VICTIM)
    victim, perp = a["victims"][0]["id"], a["perpetrator"]["id"]
    _members(api, a["id"], "advocate")
    posted = api("advocate").post(f"/cases/{a['id']}/notes",
                                  json={"body": SUPPORT_NOTE, "class": "victim.support"})
    assert posted.status_code == 201, posted.json  # no subject_person_id: the default
    _web_note(client, a["id"], "advocate", "note:victim.support", WEB_NOTE)
    ordered = api("police.officer").post(f"/cases/{a['id']}/notes", json={
        "body": ORDER_NOTE, "class": "orders", "kind": "order"})
    assert ordered.status_code == 201
    hers, his = _bundle(api, victim), _bundle(api, perp)
    assert sorted(_bodies(hers)) == sorted([SUPPORT_NOTE, WEB_NOTE])
    assert _bodies(his) == [ORDER_NOTE]
    created = [d for d in hers["disclosures"] if d["action"] == "entry:create"]
    assert [d["username"] for d in created] == ["advocate", "advocate"]  # collection logged


def test_erasure_makes_every_note_about_her_unreadable_and_the_log_verifies(api, client,
                                                                            session):
    from audit import verify_log
    from hub.auditlog import sequencer
    from hub.auditlog.cli import leaf_events
    from hub.auditlog.tree import AuditCheckpoint

    a = _case(api, PERPETRATOR, VICTIM)
    victim = a["victims"][0]["id"]
    _members(api, a["id"], "advocate")
    api("advocate").post(f"/cases/{a['id']}/notes",
                         json={"body": SUPPORT_NOTE, "class": "victim.support"})
    _web_note(client, a["id"], "advocate", "note:victim.support", WEB_NOTE)
    api("police.officer").post(f"/cases/{a['id']}/notes", json={
        "body": ORDER_NOTE, "class": "orders", "kind": "order"})
    sequencer.run_once()
    erased = api("dpo").post(f"/people/{victim}/erasure",
                             json={"ground": "erasure-request", "confirm": victim})
    assert erased.status_code == 201, erased.json
    assert "victim.support" in erased.json["what"]
    session.expire_all()
    listed = api("advocate").get(f"/cases/{a['id']}/notes").json["items"]
    notes = json.dumps(listed)
    assert SUPPORT_NOTE not in notes and WEB_NOTE not in notes
    erased_notes = [e for e in listed if e["class"] == "victim.support"]
    assert [e["body"] for e in erased_notes] == ["", ""]  # listed, with nothing left to read
    assert ORDER_NOTE in json.dumps(api("police.officer").get(f"/cases/{a['id']}/notes").json)
    erased_bundle = _bundle(api, victim)  # each version says it was erased: no content
    assert [v["content"] for e in erased_bundle["data"]["entries"] for v in e["versions"]] \
        == [None, None]
    sequencer.run_once()
    signer = sequencer.signer()
    report = verify_log(leaf_events(), [c.note for c in session.scalars(
        select(AuditCheckpoint))], signer.public_key, signer.name)
    assert report.ok, report.problems


def _two_victims(api) -> dict:
    response = api("police.officer").post("/cases", json={
        "perpetrator": PERPETRATOR, "victims": [VICTIM, OTHER_VICTIM], "summary": "Two"})
    assert response.status_code == 201, response.json
    case = api("police.officer").get(f"/cases/{response.json['id']}").json
    _members(api, case["id"], "advocate")
    return case


def test_with_two_victims_a_note_is_about_both_unless_its_author_names_one(api, client,
                                                                           session):
    case = _two_victims(api)
    vera, wanda = (v["id"] for v in case["victims"])
    both = "Both sisters asked for a joint safety review."
    only_wanda = "Wanda asked for her own advocate."
    only_vera = "Vera is moving out of the area."
    assert api("advocate").post(f"/cases/{case['id']}/notes", json={
        "body": both, "class": "victim.support"}).status_code == 201
    assert api("advocate").post(f"/cases/{case['id']}/notes", json={
        "body": only_wanda, "class": "victim.support",
        "subject_person_id": wanda}).status_code == 201
    _web_note(client, case["id"], "advocate", "note:victim.support", only_vera,
              subject=str(vera))
    assert sorted(_bodies(_bundle(api, vera))) == sorted([both, only_vera])
    assert sorted(_bodies(_bundle(api, wanda))) == sorted([both, only_wanda])
    erased = api("dpo").post(f"/people/{vera}/erasure",
                             json={"ground": "erasure-request", "confirm": vera})
    assert erased.status_code == 201
    session.expire_all()
    assert sorted(_bodies(_bundle(api, wanda)), key=str) == sorted([None, only_wanda], key=str)
    notes = json.dumps(api("advocate").get(f"/cases/{case['id']}/notes").json)
    assert only_wanda in notes and both not in notes and only_vera not in notes


def test_reading_a_note_about_both_victims_is_logged_as_a_disclosure_about_both(api, session):
    """A note that names nobody is about everyone its class concerns: the read's event must
    say so, or neither sister's bundle would list who read it."""
    case = _two_victims(api)
    vera, wanda = (v["id"] for v in case["victims"])
    assert api("advocate").post(f"/cases/{case['id']}/notes", json={
        "body": "Both sisters asked for a joint safety review.",
        "class": "victim.support"}).status_code == 201
    before = session.scalar(select(func.max(AuditEvent.seq)))
    assert api("advocate").get(f"/cases/{case['id']}/notes").status_code == 200
    read = session.scalars(select(AuditEvent).where(AuditEvent.seq > before,
                                                    AuditEvent.action == "entry:list")).one()
    assert {vera, wanda} <= set(read.subject_ids)


def test_the_note_page_asks_which_victim_only_when_there_are_several(api, client, session):
    case = _two_victims(api)
    single = _case(api, OTHER_PERP, {"name": "Xena Single"})
    _members(api, single["id"], "advocate")
    client.post("/sign-in", data={"username": "advocate", "password": "demo-password-2026"})
    page = client.get(f"/cases/{case['id']}/notes/new").get_data(as_text=True)
    assert 'name="subject"' in page
    for v in case["victims"]:
        assert f'value="{v["id"]}"' in page and v["name"] in page
    page = client.get(f"/cases/{single['id']}/notes/new").get_data(as_text=True)
    assert 'name="subject"' not in page
    refused = client.post(f"/cases/{case['id']}/notes/new", data={
        "type": "note:victim.support", "body": "x", "subject": str(single["victims"][0]["id"])})
    assert refused.status_code == 400
    assert 'href="#subject"' in refused.get_data(as_text=True)


def test_the_demo_entries_reach_the_people_they_are_about(api, session):
    from tests.support.matrix import demo_cases

    first, two_victims = demo_cases(session)[0], demo_cases(session)[2]
    claire = _bundle(api, first.victims[0][0])
    assert {(e["class"], e["kind"]) for e in claire["data"]["entries"]} >= {
        ("victim.support", "safety_plan"), ("victim.support", "note")}
    perp = _bundle(api, first.perpetrator[0])
    kinds = {(e["class"], e["kind"]) for e in perp["data"]["entries"]}
    assert {("orders", "order"), ("clinical", "intervention"),
            ("supervision", "supervision")} <= kinds
    assert not {c for c, _k in kinds} & {"victim.support"}
    for victim_id, _name in two_victims.victims:  # the demo case with two sisters
        classes = {e["class"] for e in _bundle(api, victim_id)["data"]["entries"]}
        assert "victim.support" in classes and "case.core" in classes
