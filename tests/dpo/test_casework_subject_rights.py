"""Issue 14: what a referral and a risk assessment hold about a person reaches their
subject access bundle, and erasure destroys it (UK GDPR articles 15 and 17)."""

from __future__ import annotations

import json

from hub.cases.models import Person
from tests.cases.test_referrals import ANONYMOUS, SAFE_CONTACT, refer
from tests.cases.test_risk_assessments import SDASH, yes_to


def _accepted_with_assessment(api) -> dict:
    made = refer(api, ANONYMOUS)
    api("coordinator").post(f"/referrals/{made['id']}/decision", json={"decision": "accept"})
    r = api("advocate").post(f"/cases/{made['case_id']}/risk-assessments", json={
        "tool": "s-dash", "answers": yes_to(SDASH, 4)})
    assert r.status_code == 201, r.json
    return api("advocate").get(f"/cases/{made['case_id']}").json


def test_the_bundles_hold_the_referral_identifiers_and_answers(api, session):
    case = _accepted_with_assessment(api)
    perpetrator = api("dpo").get(f"/people/{case['perpetrator']['id']}/subject-access").json
    assert perpetrator["data"]["perpetrator.identity"]["online_identifiers"] == [
        "@test_anon_handle"]
    [place] = perpetrator["data"]["cases"]
    referred_on = place["referral"].pop("referred_on")
    assert referred_on == case["referred_on"]
    assert place["referral"] == {  # the referral as it was made and decided
        "source": "self", "referrer_name": "Helpline caseworker", "crime_reference": "CAD 9/1",
        "consent_to_referral": True, "consent_to_contact": True,
        "relationship": "online_only", "behaviours": ["calls", "following"],
        "behaviours_other": None, "decision": "accept", "decision_reason": None}
    victim = api("dpo").get(f"/people/{case['victims'][0]['id']}/subject-access").json
    assert victim["data"]["victim.location"]["safe_contact"] == SAFE_CONTACT
    answers = [v["content"] for e in victim["data"]["entries"] if e["kind"] == "risk_assessment"
               and e["class"] == "victim.support" for v in e["versions"]]
    assert answers and answers[0]["answers"]["frightened"] is True


def test_erasure_destroys_identifiers_safe_contact_and_answers(api, session):
    case = _accepted_with_assessment(api)
    for person in (case["perpetrator"], case["victims"][0]):
        r = api("dpo").post(f"/people/{person['id']}/erasure",
                            json={"ground": "erasure-request", "confirm": person["id"]})
        assert r.status_code == 201, r.json
    session.expire_all()
    perpetrator = session.get(Person, case["perpetrator"]["id"])
    victim = session.get(Person, case["victims"][0]["id"])
    assert perpetrator.online_identifiers == [] and victim.safe_contact_ct is None
    after = json.dumps(api("advocate").get(f"/cases/{case['id']}").json)
    for gone in ("@test_anon_handle", SAFE_CONTACT, "Is the victim very frightened? Yes"):
        assert gone not in after
    row = api("advocate").get(f"/cases/{case['id']}").json["risk_assessments"][0]
    assert (row["score"], row["level"]) == (4, "medium")  # the case's, not the person's
