"""Issue 14: "already known?" On screening, the perpetrator and victims are matched against
every case of the area by keyed hash; the answer reveals only "known to: agencies, area,
case reference, open or closed" and what matched; asking to join goes to the other
case's team. Each answer is on the other case's record."""

from __future__ import annotations

import json

import pytest
from sqlalchemy import select

from hub.cases import matching
from hub.cases.models import Case, PersonKey
from hub.extensions import db
from tests.cases.test_referrals import HELPLINE, refer
from tests.cases.test_risk_assessments import SDASH
from tests.support.factories import events_since, last_seq
from tests.support.matrix import demo_cases

FENWICK = {"name": "Marcus Fenwick-Example", "date_of_birth": "1984-03-14"}


def referral_naming(api, perpetrator: dict, victim: dict | None = None) -> dict:
    return refer(api, {**HELPLINE, "perpetrator": perpetrator,
                       "victim": victim or {"name": "Another Test Victim"}})


def matches(api, made) -> list[dict]:
    r = api("coordinator").get(f"/referrals/{made['id']}/matches")
    assert r.status_code == 200, r.json
    return r.json["items"]


@pytest.mark.parametrize("perpetrator", [
    {"name": "Someone Else", "pnc_id": "2004/0112233X"},  # PNC ID
    {"name": "Marc Fenn", "nhs_number": "9434765919"},  # NHS number
    {"name": "marcus  FENWICK example", "date_of_birth": "1984-03-14"},  # name and birth
])
def test_the_perpetrator_of_case_one_is_found_however_he_is_named(api, session, perpetrator):
    first = demo_cases(session)[0]
    # Case 1, and (by PNC ID) the seeded referral that is already known there.
    found = next(m for m in matches(api, referral_naming(api, perpetrator))
                 if m["case_id"] == first.id)
    assert (found["case_id"], found["reference"], found["open"]) == (first.id,
                                                                     first.reference, True)
    assert found["area"] == "london" and "police" in found["known_to"]
    assert set(found) == {"case_id", "reference", "area", "open", "known_to", "matched"}
    assert all(m.startswith("perpetrator: ") for m in found["matched"])


def test_a_victim_is_found_by_her_phone_without_decrypting_anything(api, session):
    first = demo_cases(session)[0]
    made = referral_naming(api, {"online_identifiers": ["@nobody_known"]},
                           {"name": "C Holt", "phone": "+44 7700 900123"})
    [found] = matches(api, made)
    assert found["case_id"] == first.id and found["matched"] == ["victim: contact details"]
    stored = db.session.scalars(select(PersonKey.digest)).all()
    assert all(len(d) == 32 for d in stored)
    assert not any(b"900123" in d or b"Fenwick" in d for d in stored)


def test_nothing_matches_across_areas_or_by_name_alone(api, session):
    assert matches(api, referral_naming(api, {"name": "Marcus Fenwick-Example"})) == []
    assert matches(api, referral_naming(api, {"name": "Trevor Madeup",  # Hampshire's
                                              "date_of_birth": "1966-05-30"})) == []


def test_the_answer_is_on_the_other_cases_record_and_names_no_content(api, session):
    first = demo_cases(session)[0]
    made = referral_naming(api, {"name": "X", "pnc_id": "2004/0112233X"})
    seq = last_seq()
    body = api("coordinator").get(f"/referrals/{made['id']}/matches").get_data(as_text=True)
    for secret in ("Claire Example-Holt", "12 Example Road", "Fenwick", "Ex-partner fixated"):
        assert secret not in body
    on_other = next(e for e in events_since(seq, "case:match") if e.case_id == first.id)
    assert on_other.details["checking_case_id"] == made["case_id"]
    [asked] = events_since(seq, "case:match-check")
    assert asked.case_id == made["case_id"] and first.id in asked.details["matched_case_ids"]


def test_only_the_screening_coordinator_asks(api, session):
    made = referral_naming(api, {"name": "X", "pnc_id": "2004/0112233X"})
    for username in ("advocate", "police.officer", "nhs.clinician", "dpo"):
        assert api(username).get(f"/referrals/{made['id']}/matches").status_code == 403
    assert api("coordinator").get("/referrals/999999/matches").status_code == 404


def test_asking_to_join_goes_to_the_other_team_which_decides(api, session):
    first = demo_cases(session)[0]
    made = referral_naming(api, {"name": "X", "pnc_id": "2004/0112233X"})
    # The coordinator is on every demo case; take them off case 1 to ask as a stranger.
    api("police.officer").delete(
        f"/cases/{first.id}/members/{_place(first.id, 'coordinator')}")
    assert api("coordinator").get(f"/cases/{first.id}").status_code == 404
    seq = last_seq()
    r = api("coordinator").post(f"/referrals/{made['id']}/join", json={"case_id": first.id})
    assert r.status_code == 201, r.json
    again = api("coordinator").post(f"/referrals/{made['id']}/join", json={"case_id": first.id})
    assert again.status_code == 409
    [event] = events_since(seq, "case:join-request")
    assert event.case_id == first.id
    # A case the referral did not match cannot be asked for, even one they are on.
    other = demo_cases(session)[1]
    r = api("coordinator").post(f"/referrals/{made['id']}/join", json={"case_id": other.id})
    assert r.status_code == 404
    request_id = event.details["join_request_id"]
    assert api("nhs.clinician").post(f"/join-requests/{request_id}/decision",
                                     json={"decision": "approve"}).status_code == 403
    r = api("police.officer").post(f"/join-requests/{request_id}/decision",
                                   json={"decision": "approve"})
    assert r.status_code == 200
    assert api("coordinator").get(f"/cases/{first.id}").status_code == 200


def test_a_case_that_did_not_match_cannot_be_asked_for(api, session):
    made = referral_naming(api, {"name": "Nobody Known"})
    hampshire = demo_cases(session)[3]
    r = api("coordinator").post(f"/referrals/{made['id']}/join", json={"case_id": hampshire.id})
    assert r.status_code == 404 and set(r.json) == {"error"}


def test_erasure_and_corrections_keep_the_index_true(api, session):
    first = demo_cases(session)[0]
    victim_id = first.victims[0][0]
    case = api("advocate").get(f"/cases/{first.id}").json
    r = api("advocate").patch(f"/cases/{first.id}/people/{victim_id}",
                              json={"phone": "07700 900555", "version": case["victims"][0][
                                  "version"]})
    assert r.status_code == 200, r.json
    by_old = referral_naming(api, {"online_identifiers": ["@old_phone"]},
                             {"name": "V", "phone": "07700 900123"})
    assert matches(api, by_old) == []
    by_new = referral_naming(api, {"online_identifiers": ["@new_phone"]},
                             {"name": "V", "phone": "07700900555"})
    assert [m["case_id"] for m in matches(api, by_new)] == [first.id]
    r = api("dpo").post(f"/people/{victim_id}/erasure",
                        json={"ground": "erasure-request", "confirm": victim_id})
    assert r.status_code == 201
    assert matches(api, by_new) == []
    assert db.session.scalars(select(PersonKey).where(PersonKey.person_id == victim_id)
                              ).all() == []


def test_the_normalised_identifiers():
    class P:
        pnc_id, nhs_number, name = " 2004/0112233x", "943 476 5919", "Ms. Zoë O'Brien-Smith"
        date_of_birth = None
        online_identifiers = ("@Handle_1 ",)

        def get_secret(self, field):
            return {"phone": "+44 (0)7700 900123", "email": " A@Example.ORG "}.get(field)

    found = dict(matching.identifiers(P()))
    assert found["pnc"] == "2004/0112233X" and found["nhs"] == "9434765919"
    assert found["online"] == "handle_1" and found["email"] == "a@example.org"
    assert "name_dob" not in found  # a name alone is not an identifier
    assert matching._name("Ms. Zoë O'Brien-Smith") == "ms zoe obrien smith"


def _place(case_id: int, username: str) -> int:
    from hub.accounts.models import User
    from hub.cases.models import Membership

    return db.session.scalar(select(Membership.id).join(User, User.id == Membership.user_id)
                             .where(Membership.case_id == case_id, User.username == username,
                                    Membership.removed_at.is_(None)))


def test_the_seeded_referral_is_already_known(api, session):
    pending = db.session.scalar(select(Case).where(Case.summary.like("Police referral: a new%")))
    referral = api("coordinator").get(f"/cases/{pending.id}").json["referral"]
    [found] = matches(api, {"id": referral["id"]})
    assert found["case_id"] == demo_cases(session)[0].id
    assert json.dumps(found).count("perpetrator: PNC ID") == 1


def test_the_dpo_finds_every_casework_action(api, session):
    """Each new action is in the audit search by its name."""
    first = demo_cases(session)[0]
    made = referral_naming(api, {"name": "Z", "pnc_id": "2004/0112233X"})
    matches(api, made)
    asked = api("coordinator").post(f"/referrals/{made['id']}/join",
                                    json={"case_id": first.id}).json
    api("police.officer").post(f"/join-requests/{asked['id']}/decision",
                               json={"decision": "refuse"})
    api("coordinator").post(f"/referrals/{made['id']}/decision", json={"decision": "accept"})
    api("coordinator").get("/referrals")
    api("advocate").post(f"/cases/{made['case_id']}/risk-assessments", json={
        "tool": "s-dash", "answers": dict.fromkeys(SDASH, False)})
    for action in ("referral:create", "referral:list", "case:match-check", "case:match",
                   "case:join-request", "case:join-decide", "referral:decide",
                   "risk-assessment:create"):
        found = api("dpo").get(f"/audit/events?action={action}").json
        assert found["total"] >= 1, action
        assert {e["action"] for e in found["items"]} == {action}
