"""Issue 14: structured risk assessments (DOMAIN "Casework" 3).

Scores and suggested levels are checked against examples worked by hand from the tools'
definitions (policies/tools/): S-DASH counts "yes" (5 or more: high, 3 or 4: medium), the
DASH checklist likewise (14 or more: high, 10 to 13: medium), and the clinical form takes
its highest judgement. The assessor's level becomes the case's; a level other than the
suggestion needs a reason. Each part is read only by those who may read its class.
"""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hub.cases import location_guard
from hub.cases.models import Entry, RiskAssessment
from hub.extensions import db
from hub.policy import current_policy
from tests.support.factories import events_since, last_seq
from tests.support.matrix import demo_cases

SDASH = ["frightened", "previous_abuse", "property_damage", "turned_up", "followed",
         "threatened_violence", "third_parties", "violent_to_others", "engaged_others",
         "drugs_alcohol_mental_health", "abusive_to_others"]
DASH = ["injury", "frightened", "afraid_of_violence", "isolated", "depressed", "separated",
        "child_contact", "constant_contact", "pregnant", "more_often", "getting_worse",
        "controlling", "weapons", "threats_to_kill", "strangulation", "sexual_abuse",
        "others_threaten", "hurt_others", "animals", "financial",
        "drugs_alcohol_mental_health", "suicide", "broken_bail", "criminal_history"]
REASONS = {f"{j}_reason": f"Reason for the {j} judgement." for j in
           ("violence", "persistence", "recurrence", "psychosocial_damage")}


def yes_to(questions, count: int) -> dict:
    return {q: i < count for i, q in enumerate(questions)}


def srp(violence="low", persistence="low", recurrence="low", damage="low") -> dict:
    return {"stalker_type": "rejected", "violence": violence, "persistence": persistence,
            "recurrence": recurrence, "psychosocial_damage": damage, **REASONS}


@pytest.fixture
def case(session):
    return demo_cases(session)[0]  # London, on every member's team


def assess(api, case, username, body):
    return api(username).post(f"/cases/{case.id}/risk-assessments", json=body)


def stored() -> tuple[int, int]:
    return (db.session.scalar(select(func.count(RiskAssessment.id))),
            db.session.scalar(select(func.count(Entry.id))))


@pytest.mark.parametrize(("yes", "score", "level"), [
    (0, 0, "standard"), (2, 2, "standard"), (3, 3, "medium"), (4, 4, "medium"),
    (5, 5, "high"), (11, 11, "high")])
def test_sdash_scores_by_hand(api, case, yes, score, level):
    r = assess(api, case, "advocate", {"tool": "s-dash", "answers": yes_to(SDASH, yes)})
    assert r.status_code == 201, r.json
    assert (r.json["score"], r.json["suggested_level"], r.json["level"]) == (score, level, level)
    assert r.json["case_risk_level"] == level


@pytest.mark.parametrize(("yes", "level"), [
    (9, "standard"), (10, "medium"), (13, "medium"), (14, "high"), (24, "high")])
def test_dash_scores_by_hand(api, case, yes, level):
    r = assess(api, case, "advocate", {"tool": "dash", "answers": yes_to(DASH, yes)})
    assert r.status_code == 201, r.json
    assert (r.json["score"], r.json["suggested_level"]) == (yes, level)


@pytest.mark.parametrize(("judgements", "level"), [
    (("low", "low", "low", "low"), "standard"),
    (("low", "moderate", "low", "low"), "medium"),
    (("low", "moderate", "high", "low"), "high"),
    (("high", "low", "low", "low"), "high")])
def test_the_clinical_form_suggests_its_highest_judgement(api, case, judgements, level):
    r = assess(api, case, "nhs.clinician", {"tool": "srp", "answers": srp(*judgements)})
    assert r.status_code == 201, r.json
    assert (r.json["score"], r.json["suggested_level"]) == (None, level)


def test_an_override_needs_a_reason_and_the_case_takes_the_latest_level(api, case):
    body = {"tool": "s-dash", "answers": yes_to(SDASH, 1), "level": "high"}
    before = stored()
    r = assess(api, case, "advocate", body)
    assert (r.status_code, r.json["error"]["field"]) == (400, "override_reason")
    assert stored() == before
    r = assess(api, case, "advocate", {**body, "override_reason": "Escalating fast this week.",
                                       "review_on": "2099-01-31"})
    assert r.status_code == 201 and (r.json["suggested_level"], r.json["level"]) == (
        "standard", "high")
    later = assess(api, case, "advocate", {"tool": "s-dash", "answers": yes_to(SDASH, 3)})
    seen = api("police.officer").get(f"/cases/{case.id}").json
    assert seen["risk_level"] == "medium"
    timeline = seen["risk_assessments"]
    assert [a["id"] for a in timeline[:2]] == [later.json["id"], r.json["id"]]
    assert timeline[1]["override_reason"] == "Escalating fast this week."
    assert seen["next_review_on"] == "2099-01-31"


def test_each_part_goes_only_to_those_who_read_its_class(api, case):
    sdash = assess(api, case, "advocate", {"tool": "s-dash", "answers": yes_to(SDASH, 6)}).json
    clinical = assess(api, case, "nhs.clinician", {
        "tool": "srp", "answers": srp("high"),
        "shared_summary": "Shared: high risk of violence; engage police now."}).json

    def row(username, assessment_id):
        body = api(username).get(f"/cases/{case.id}").json
        return next(a for a in body["risk_assessments"] if a["id"] == assessment_id)

    for username in ("police.officer", "nhs.clinician", "probation.officer", "cps.prosecutor",
                     "advocate"):
        seen = row(username, sdash["id"])
        assert (seen["score"], seen["level"]) == (6, "high")  # case.core: everyone
        assert ("answers" in seen) == (username == "advocate"), username
        seen = row(username, clinical["id"])
        assert ("answers" in seen) == (username == "nhs.clinician"), username
        assert ("shared_summary" in seen) == (username in (
            "police.officer", "nhs.clinician", "probation.officer")), username
    assert row("police.officer", sdash["id"])["withheld"] == [
        {"part": "answers", "class": "victim.support"}]
    assert row("advocate", sdash["id"])["answers"]["frightened"] is True


def test_a_read_gives_every_field_of_the_assessment_and_records_its_classes(api, case,
                                                                            session):
    made = assess(api, case, "nhs.clinician", {
        "tool": "srp", "answers": srp("high"), "level": "high", "review_on": "2099-03-01",
        "shared_summary": "Shared: engage police now."}).json
    seq = last_seq()
    body = api("police.officer").get(f"/cases/{case.id}").json
    row = next(a for a in body["risk_assessments"] if a["id"] == made["id"])
    assessed_at = row.pop("assessed_at")
    assert assessed_at.startswith(str(session.get(RiskAssessment, made["id"]).assessed_at.date()))
    assert row == {"id": made["id"], "tool": "srp", "score": made["score"],
                   "suggested_level": "high", "level": "high", "review_on": "2099-03-01",
                   "assessor": "Dr Priya Nandra", "agency": "nhs",
                   "override_reason": None, "shared_summary": "Shared: engage police now.",
                   "withheld": [{"part": "answers", "class": "clinical"}]}
    [event] = events_since(seq, "case:read")
    assert "case.core" in event.classes and "clinical.summary" in event.classes
    assert set(event.classes) <= set(current_policy().classes)


def test_an_assessment_is_never_edited_as_a_note(api, case):
    """A new assessment replaces it: editing one part would break it from its score."""
    made = assess(api, case, "advocate", {"tool": "s-dash", "answers": yes_to(SDASH, 2)}).json
    row = next(a for a in api("advocate").get(f"/cases/{case.id}").json["risk_assessments"]
               if a["id"] == made["id"])
    entries = api("advocate").get(f"/cases/{case.id}/notes").json["items"]
    answers = next(e for e in entries if e["kind"] == "risk_assessment"
                   and e["class"] == "victim.support" and e["id"] > 0
                   and "Is the victim very frightened? Yes" in e["body"])
    r = api("advocate").put(f"/cases/{case.id}/notes/{answers['id']}",
                            json={"body": "All no.", "version": answers["version"]})
    assert r.status_code == 409
    again = next(a for a in api("advocate").get(f"/cases/{case.id}").json["risk_assessments"]
                 if a["id"] == made["id"])
    assert again["answers"] == row["answers"]


def test_an_assessment_is_audited_with_every_class_it_wrote(api, case):
    seq = last_seq()
    made = assess(api, case, "nhs.clinician", {"tool": "srp", "answers": srp(),
                                               "shared_summary": "Engaging well."}).json
    [event] = events_since(seq, "risk-assessment:create")
    assert event.classes == ["case.core", "clinical", "clinical.summary"]
    assert event.details["assessment_id"] == made["id"] and event.details["tool"] == "srp"


def test_an_officer_records_her_answers_and_reads_back_only_the_level(api, case, session):
    """Police take the victim's answers to S-DASH (policies/base.yaml,
    police-write-risk-answers); the answers are hers (victim.support), which police read
    only as safety plans. Writing them gives police no other victim.support entry."""
    r = assess(api, case, "police.officer", {"tool": "s-dash", "answers": yes_to(SDASH, 5)})
    assert r.status_code == 201 and r.json["level"] == "high"
    seen = api("police.officer").get(f"/cases/{case.id}").json
    row = next(a for a in seen["risk_assessments"] if a["id"] == r.json["id"])
    assert "answers" not in row and row["withheld"] == [
        {"part": "answers", "class": "victim.support"}]
    assert next(a for a in api("advocate").get(f"/cases/{case.id}").json["risk_assessments"]
                if a["id"] == r.json["id"])["answers"]["frightened"] is True
    for kind in ("note", "safety_plan"):  # her answers give police no other support entry
        note = api("police.officer").post(f"/cases/{case.id}/notes", json={
            "body": "A support note", "class": "victim.support", "kind": kind})
        assert note.status_code == 403, kind
    note = api("police.officer").post(f"/cases/{case.id}/notes", json={
        "body": "A support note", "class": "victim.support", "kind": "risk_assessment"})
    assert (note.status_code, note.json["error"]["field"]) == (400, "kind")


@pytest.mark.parametrize(("username", "tool"), [
    ("police.officer", "srp"), ("nhs.clinician", "s-dash"), ("probation.officer", "dash"),
    ("advocate", "srp"), ("cps.prosecutor", "srp")])
def test_only_who_may_write_a_tools_answers_completes_it(api, case, username, tool):
    answers = srp() if tool == "srp" else yes_to(SDASH if tool == "s-dash" else DASH, 1)
    before = stored()
    r = assess(api, case, username, {"tool": tool, "answers": answers})
    assert r.status_code == 403, r.json
    assert stored() == before


def test_non_members_and_staff_cannot_assess(api, case):
    body = {"tool": "s-dash", "answers": yes_to(SDASH, 1)}
    assert assess(api, case, "outsider.officer", body).status_code == 404
    assert assess(api, case, "dpo", body).status_code == 403


def test_perpetrator_facing_workers_never_receive_a_location_through_an_assessment(api, case,
                                                                                  session):
    """The override reason is case.core, read by NHS and probation: a victim's address in
    it is refused, as in any shared text. A clinician cannot see the address, so cannot be
    told of it: their text is kept and flagged for the DPO, as any note of theirs is."""
    address = demo_cases(session)[0]
    victim = api("advocate").get(f"/cases/{address.id}").json["victims"][0]
    r = assess(api, case, "advocate", {
        "tool": "s-dash", "answers": yes_to(SDASH, 1), "level": "high",
        "override_reason": f"She has moved back to {victim['address']}."})
    assert (r.status_code, r.json["error"]["field"]) == (400, "override_reason")
    seq = last_seq()
    r = assess(api, case, "nhs.clinician", {
        "tool": "srp", "answers": srp(), "shared_summary": f"Saw her at {victim['address']}."})
    assert r.status_code == 201
    [flag] = events_since(seq, location_guard.FLAG)
    assert flag.details["field"] == "shared_summary"


@pytest.mark.parametrize(("body", "field"), [
    ({"tool": "ouija", "answers": {}}, "tool"),
    ({"tool": "s-dash"}, "answers"),
    ({"tool": "s-dash", "answers": "all yes"}, "answers"),
    ({"tool": "s-dash", "answers": {**yes_to(SDASH, 1), "frightened": "very"}},
     "answers.frightened"),
    ({"tool": "s-dash", "answers": {k: v for k, v in yes_to(SDASH, 1).items()
                                    if k != "followed"}}, "answers.followed"),
    ({"tool": "s-dash", "answers": {**yes_to(SDASH, 1), "shoe_size": True}},
     "answers.shoe_size"),
    ({"tool": "srp", "answers": {**srp(), "violence": "extreme"}}, "answers.violence"),
    ({"tool": "srp", "answers": {**srp(), "stalker_type": "sneaky"}}, "answers.stalker_type"),
    ({"tool": "srp", "answers": {**srp(), "violence_reason": "   "}}, "answers.violence_reason"),
    ({"tool": "s-dash", "answers": yes_to(SDASH, 1), "level": "critical"}, "level"),
    ({"tool": "s-dash", "answers": yes_to(SDASH, 1), "review_on": "2001-01-01"}, "review_on"),
    ({"tool": "s-dash", "answers": yes_to(SDASH, 1), "shared_summary": "x"}, "shared_summary"),
    ({"tool": "s-dash", "answers": yes_to(SDASH, 1), "score": 11}, "score"),
])
def test_bad_assessments_get_400_naming_the_field_and_write_nothing(api, case, body, field):
    username = "nhs.clinician" if body.get("tool") == "srp" else "advocate"
    before = stored()
    r = assess(api, case, username, body)
    assert r.status_code == 400, r.json
    assert r.json["error"]["field"] == field, r.json
    assert stored() == before


def test_the_tools_are_published_with_their_questions(api):
    tools = {t["tool"]: t for t in api("police.officer").get("/risk-tools").json["items"]}
    assert [q["id"] for q in tools["s-dash"]["questions"]] == SDASH
    assert [q["id"] for q in tools["dash"]["questions"]] == DASH
    assert tools["dash"]["scoring"] == {"count_yes": {"high": 14, "medium": 10}}
    assert tools["srp"]["answers_class"] == "clinical"
