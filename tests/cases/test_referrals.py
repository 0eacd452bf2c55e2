"""Issue 14: a referral, and the coordinator's screening of it (DOMAIN "Casework" 1, 2).

A referral opens a case in `referred` on the team of whoever entered it and of the area's
coordinators; nobody else learns of it. Screening accepts (the case opens), declines with
a reason, or signposts, once. The victim's safe contact instructions are her location:
perpetrator-facing workers never receive them, from a referral or anywhere else.
"""

from __future__ import annotations

import json

import pytest
from sqlalchemy import func, select

from hub.cases.models import Case, Membership, Referral
from hub.extensions import db
from tests.support.factories import (
    events_since,
    last_seq,
    page_text,
    sign_in,
    text_by_id,
    user_named,
)
from tests.support.matrix import PERPETRATOR_FACING

SAFE_CONTACT = "Text only; never leave a voicemail; not before 6pm."
HELPLINE = {
    "source": "helpline", "referrer_name": "Helpline caseworker", "crime_reference": "CAD 9/1",
    "consent_to_referral": True, "consent_to_contact": True, "relationship": "acquaintance",
    "behaviours": ["calls", "following"], "summary": "Helpline referral for the test.",
    "victim": {"name": "Test Referred Victim", "phone": "07700 900999",
               "safe_contact": SAFE_CONTACT},
    "perpetrator": {"name": "Test Referred Perpetrator"},
}
ANONYMOUS = {**HELPLINE, "source": "self", "relationship": "online_only",
             "perpetrator": {"online_identifiers": ["@test_anon_handle"]}}


def refer(api, body=HELPLINE, username="advocate"):
    r = api(username).post("/referrals", json=body)
    assert r.status_code == 201, r.json
    return r.json


def counts() -> tuple[int, int]:
    return (db.session.scalar(select(func.count(Case.id))),
            db.session.scalar(select(func.count(Referral.id))))


def test_a_referral_opens_a_referred_case_for_its_referrer_and_the_coordinator(api, session):
    seq = last_seq()
    api("police.officer").post("/cases", json={  # case and referral ids now part ways
        "perpetrator": {"name": "Ids Apart"}, "victims": [{"name": "Ids Apart Victim"}]})
    made = refer(api)
    assert db.session.get(Referral, made["id"]).case_id == made["case_id"] != made["id"]
    assert made["status"] == "referred" and made["reference"].startswith("STAC-LON-")
    team = set(db.session.scalars(select(Membership.user_id).where(
        Membership.case_id == made["case_id"])))
    assert team == {user_named("advocate").id, user_named("coordinator").id}
    [event] = events_since(seq, "referral:create")
    assert event.case_id == made["case_id"] and "victim.location" in event.classes
    case = api("coordinator").get(f"/cases/{made['case_id']}").json
    assert case["referral"]["source"] == "helpline"
    assert case["referral"]["behaviours"] == ["calls", "following"]
    assert case["victims"][0]["safe_contact"] == SAFE_CONTACT
    # Nobody else learns of it: not the referrer's colleagues, not the other agencies.
    for username in ("police.officer", "nhs.clinician", "outsider.officer"):
        assert api(username).get(f"/cases/{made['case_id']}").status_code == 404
        listed = api(username).get("/cases?per_page=100").json["items"]
        assert made["case_id"] not in {c["id"] for c in listed}


def test_a_perpetrator_known_only_online_needs_no_name(api, session):
    made = refer(api, ANONYMOUS)
    case = api("coordinator").get(f"/cases/{made['case_id']}").json
    assert case["perpetrator"]["name"] is None
    assert case["perpetrator"]["online_identifiers"] == ["@test_anon_handle"]
    assert case["referral"]["perpetrator_named"] is False


def test_the_screening_queue_lists_what_waits_oldest_first(api, session):
    made = refer(api)
    seq = last_seq()
    queue = api("coordinator").get("/referrals").json["items"]
    [event] = events_since(seq)
    assert (event.action, event.classes) == ("referral:list",
                                             ["case.core", "perpetrator.identity"])
    assert event.details["case_ids"] == [c["id"] for c in queue]
    [item] = [c for c in queue if c["id"] == made["case_id"]]
    assert item["perpetrator"]["name"] == "Test Referred Perpetrator"
    assert item["referral"] == api("coordinator").get(f"/cases/{made['case_id']}").json[
        "referral"]
    assert {c["status"] for c in queue} <= {"referred", "screening"}
    dates = [c["referred_on"] for c in queue]
    assert dates == sorted(dates)
    assert api("police.officer").get("/referrals").status_code == 403


@pytest.mark.parametrize("decision", ["decline", "signpost"])
def test_declining_or_signposting_needs_a_reason_and_closes_the_case(api, session, decision):
    made = refer(api)
    path = f"/referrals/{made['id']}/decision"
    before = counts()
    r = api("coordinator").post(path, json={"decision": decision})
    assert (r.status_code, r.json["error"]["field"]) == (400, "reason")
    assert api("coordinator").get(f"/cases/{made['case_id']}").json["status"] == "referred"
    r = api("coordinator").post(path, json={"decision": decision,
                                            "reason": "Better met by the local DA service."})
    assert r.status_code == 200 and "case_id" not in r.json and r.json["status"] == "closed"
    case = api("coordinator").get(f"/cases/{made['case_id']}").json
    assert case["closed_on"]
    decided_at, referred_on = (case["referral"].pop(k) for k in ("decided_at", "referred_on"))
    assert decided_at.startswith(case["closed_on"]) and referred_on == case["referred_on"]
    assert case["referral"] == {
        "id": made["id"], "source": "helpline", "referrer_name": "Helpline caseworker",
        "agency": "advocacy", "crime_reference": "CAD 9/1", "consent_to_referral": True,
        "consent_to_contact": True, "relationship": "acquaintance",
        "behaviours": ["calls", "following"], "behaviours_other": None,
        "perpetrator_named": True, "decision": decision,
        "decision_reason": "Better met by the local DA service."}
    assert counts() == before


def test_accepting_opens_the_case_once(api, session):
    made = refer(api)
    seq = last_seq()
    r = api("coordinator").post(f"/referrals/{made['id']}/decision", json={"decision": "accept"})
    assert r.status_code == 200 and r.json["case_id"] == made["case_id"]
    case = api("advocate").get(f"/cases/{made['case_id']}").json
    assert (case["status"], case["referral"]["decision"]) == ("accepted", "accept")
    assert case["accepted_on"]
    [event] = events_since(seq, "referral:decide")
    assert event.details["decision"] == "accept" and event.classes == ["case.core"]
    again = api("coordinator").post(f"/referrals/{made['id']}/decision",
                                    json={"decision": "decline", "reason": "Changed mind."})
    assert again.status_code == 409


def test_only_a_coordinator_on_the_team_decides(api, session):
    made = refer(api)
    path = f"/referrals/{made['id']}/decision"
    for username in ("advocate", "police.officer", "nhs.clinician", "dpo"):
        assert api(username).post(path, json={"decision": "accept"}).status_code == 403
    # A referral id that does not exist, and one whose case the coordinator left: 404.
    assert api("coordinator").post("/referrals/999999/decision",
                                   json={"decision": "accept"}).status_code == 404
    db.session.execute(Membership.__table__.update().where(
        Membership.case_id == made["case_id"],
        Membership.user_id == user_named("coordinator").id).values(removed_at=func.now()))
    r = api("coordinator").post(path, json={"decision": "accept"})
    assert r.status_code == 404 and "Test Referred" not in r.get_data(as_text=True)


@pytest.mark.parametrize("username", PERPETRATOR_FACING)
def test_perpetrator_facing_workers_never_receive_safe_contact_details(api, session,
                                                                        username):
    """Once accepted and on the team, NHS and probation read the case, never where or how
    to reach her."""
    made = refer(api)
    api("coordinator").post(f"/referrals/{made['id']}/decision", json={"decision": "accept"})
    assert api("coordinator").post(f"/cases/{made['case_id']}/members",
                                   json={"username": username}).status_code == 201
    for path in (f"/cases/{made['case_id']}", f"/cases/{made['case_id']}/notes", "/cases"):
        body = api(username).get(path).get_data(as_text=True)
        assert "Test Referred Perpetrator" in body or path != f"/cases/{made['case_id']}"
        for secret in (SAFE_CONTACT, "07700 900999", "voicemail"):
            assert secret not in body, (path, secret)
    case = api(username).get(f"/cases/{made['case_id']}").json
    assert "safe_contact" not in json.dumps(case["victims"])
    assert "victim.location" in case["withheld"]


@pytest.mark.parametrize(("body", "field"), [
    ({**HELPLINE, "source": "carrier pigeon"}, "source"),
    ({**HELPLINE, "relationship": "enemy"}, "relationship"),
    ({**HELPLINE, "behaviours": ["calls", "juggling"]}, "behaviours.1"),
    ({**HELPLINE, "behaviours": ["other"]}, "behaviours_other"),
    ({**HELPLINE, "consent_to_contact": "yes please"}, "consent_to_contact"),
    ({k: v for k, v in HELPLINE.items() if k != "consent_to_referral"}, "consent_to_referral"),
    ({k: v for k, v in HELPLINE.items() if k != "victim"}, "victim"),
    ({**HELPLINE, "perpetrator": {}}, "perpetrator"),
    ({**HELPLINE, "perpetrator": {"online_identifiers": []}}, "perpetrator"),
    ({**HELPLINE, "referred_on": "2999-01-01"}, "referred_on"),
    ({**HELPLINE, "victim": {"name": "V", "phone": "call me maybe"}}, "victim.phone"),
    ({**HELPLINE, "smuggled": "x"}, "smuggled"),
])
def test_bad_referrals_get_400_naming_the_field_and_write_nothing(api, session, body, field):
    before = counts()
    r = api("advocate").post("/referrals", json=body)
    assert r.status_code == 400, r.json
    assert r.json["error"]["field"] == field, r.json
    assert counts() == before


def test_only_roles_that_open_cases_refer(api, session):
    for username in ("nhs.clinician", "probation.officer", "cps.prosecutor", "dpo", "admin"):
        assert api(username).post("/referrals", json=HELPLINE).status_code == 403


def test_screening_cannot_be_skipped_by_changing_the_status(api, session):
    """Only the coordinator's decision takes a referral out of screening."""
    made = refer(api)
    case = api("advocate").get(f"/cases/{made['case_id']}").json
    for status in ("accepted", "active", "closed"):
        r = api("advocate").patch(f"/cases/{made['case_id']}",
                                  json={"version": case["version"], "status": status})
        assert (r.status_code, r.json["error"]["field"]) == (409, "status"), status
    r = api("advocate").patch(f"/cases/{made['case_id']}",
                              json={"version": case["version"], "status": "screening"})
    assert r.status_code == 200
    assert made["case_id"] in {c["id"] for c in api("coordinator").get("/referrals").json[
        "items"]}


def test_closing_needs_a_reason_and_the_status_history_keeps_it(api, client, session):
    made = refer(api)
    api("coordinator").post(f"/referrals/{made['id']}/decision", json={"decision": "accept"})
    path = f"/cases/{made['case_id']}"
    version = api("advocate").get(path).json["version"]
    r = api("advocate").patch(path, json={"version": version, "status": "closed"})
    assert (r.status_code, r.json["error"]["field"]) == (400, "closure_reason")
    assert api("advocate").get(path).json["status"] == "accepted"
    r = api("advocate").patch(path, json={"version": version, "status": "closed",
                                          "closure_reason": "She has moved out of the area."})
    assert r.status_code == 200
    history = api("advocate").get(path).json["status_history"]
    assert [(h["status"], h["reason"]) for h in history] == [
        ("referred", None), ("accepted", None), ("closed", "She has moved out of the area.")]
    sign_in(client, "advocate")
    page = client.get(path).get_data(as_text=True)
    listed = page_text(text_by_id(page, "status-list"))
    assert "Closed on" in listed and "by Advocacy service: She has moved out of the area." \
        in listed


def test_a_case_may_be_opened_with_only_online_identifiers(api, session):
    r = api("police.officer").post("/cases", json={
        "perpetrator": {"online_identifiers": ["@case_handle"]},
        "victims": [{"name": "Online Victim"}]})
    assert r.status_code == 201, r.json
    assert r.json["perpetrator"]["name"] is None
    r = api("police.officer").post("/cases", json={"perpetrator": {},
                                                   "victims": [{"name": "Online Victim"}]})
    assert (r.status_code, r.json["error"]["field"]) == (400, "perpetrator")
