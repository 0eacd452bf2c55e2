"""Issue 14 in the browser's words: referral intake, the screening queue and decision, and
risk assessments, as pages (no JavaScript needed). Each form keeps what was typed when it
is refused and names every problem; the case page shows the referral and the risk
timeline in plain words and UK dates."""

from __future__ import annotations

import html as html_module
import re

from sqlalchemy import func, select

from hub.accounts.models import User
from hub.cases.models import Case, Membership, Referral, RiskAssessment
from hub.extensions import db
from tests.cases.test_risk_assessments import SDASH
from tests.support.factories import page_text, sign_in, text_by_id
from tests.support.matrix import demo_cases

FORM = {"source": "helpline", "referrer_name": "Helpline caseworker",
        "referred_on": "01/12/2026", "consent_to_referral": "yes", "consent_to_contact": "no",
        "victim.name": "Page Referred Victim", "victim.safe_contact": "Text only, after 6pm",
        "relationship": "online_only", "behaviours": ["messages", "other"],
        "behaviours_other": "Fake profiles in her name",
        "perpetrator.online_identifiers": "@page_handle\npage.handle@example.org"}


def html(response) -> str:
    return response.get_data(as_text=True)


def problems(markup: str) -> dict[str, str]:
    """The error summary: the field each problem links to, and what it says."""
    return {field: html_module.unescape(text) for field, text in
            re.findall(r'<li><a href="#([^"]+)">([^<]+)</a></li>', markup)}


def count(model) -> int:
    return db.session.scalar(select(func.count(model.id)))


def test_intake_names_every_problem_and_keeps_what_was_typed(client, session):
    sign_in(client, "advocate")
    before = (count(Case), count(Referral))
    r = client.post("/referrals/new", data={"victim.name": "Kept Name", "behaviours": "other",
                                            "referred_on": "31/02/2026"})
    assert r.status_code == 400
    said = problems(html(r))
    assert said["referred_on"].startswith("Enter a real date of referral")
    assert said["source"] == "Select who made the referral"
    assert said["consent_to_referral"] == "Select whether she agreed to the referral"
    assert said["relationship"] == "Select how she knows the perpetrator"
    r = client.post("/referrals/new", data={**FORM, "behaviours_other": "",
                                            "perpetrator.online_identifiers": ""})
    said = problems(html(r))
    assert list(said.items()) == [  # every problem at once, in the page's order
        ("perpetrator-name", "Enter the perpetrator's name, or at least one online identifier"),
        ("behaviours_other", "Say what the other behaviour is")]
    assert 'value="Page Referred Victim"' in html(r)  # kept
    assert (count(Case), count(Referral)) == before


def test_a_helpline_referral_from_intake_to_an_assessed_case(client, session):
    sign_in(client, "advocate")
    r = client.post("/referrals/new", data=FORM)
    assert r.status_code == 302
    case_path = r.location
    page = html(client.get(case_path))
    assert "is waiting for screening" in page_text(page)
    details = text_by_id(page, "referral-details")
    assert "National Stalking Helpline (Helpline caseworker)" in " ".join(details.split())
    assert "1 December 2026" in details and "Fake profiles in her name" in details
    assert "Not known by name" in details
    assert "Text only, after 6pm" in page_text(page)  # advocacy reads her contact details

    client.post("/sign-out")
    sign_in(client, "coordinator")
    queue = html(client.get("/referrals/"))
    referral_id = db.session.scalar(select(Referral.id).where(
        Referral.case_id == int(case_path.rsplit("/", 1)[1])))
    row = text_by_id(queue, f"referral-{referral_id}")
    assert "1 December 2026" in row and "National Stalking Helpline" in row
    assert "Not known by name" in row
    r = client.post(f"/referrals/{referral_id}", data={"decision": "decline"})
    assert r.status_code == 400
    assert problems(html(r)) == {
        "reason": "Give the reason for declining or signposting the referral"}
    r = client.post(f"/referrals/{referral_id}", data={"decision": "accept"})
    assert r.status_code == 302 and r.location == case_path
    page = html(client.get(case_path))
    assert "Accepted on" in text_by_id(page, "referral-decision")
    assert f'href="/referrals/{referral_id}"' not in html(client.get("/referrals/"))

    client.post("/sign-out")
    sign_in(client, "advocate")
    form_page = html(client.get(f"{case_path}/risk-assessments/new?tool=s-dash"))
    assert form_page.count('type="radio"') >= 2 * len(SDASH)
    r = client.post(f"{case_path}/risk-assessments/new",
                    data={"tool": "s-dash", "answers.frightened": "yes"})
    assert r.status_code == 400
    said = problems(html(r))
    assert len(said) == len(SDASH) - 1
    assert said["answers-followed"] == ("Answer question 5: Has the suspect followed the "
                                        "victim or loitered near her home or work?")
    answers = {f"answers.{q}": "yes" if i < 3 else "no" for i, q in enumerate(SDASH)}
    r = client.post(f"{case_path}/risk-assessments/new",
                    data={"tool": "s-dash", **answers, "level": "high"})
    assert problems(html(r)) == {
        "override_reason": "The answers suggest medium: give a reason for setting high"}
    r = client.post(f"{case_path}/risk-assessments/new", data={
        "tool": "s-dash", **answers, "level": "high", "review_on": "1/3/2099",
        "override_reason": "Threats escalated this week."})
    assert r.status_code == 302
    page = html(client.get(case_path))
    timeline = page_text(text_by_id(page, "risk-timeline") or "")
    assert "S-DASH (stalking and harassment): High (the case's level)" in timeline
    assert "Score 3. The answers suggested medium; set high because: Threats escalated" \
        in timeline
    assert "Reassess by 1 March 2099" in timeline
    assert text_by_id(page, "summary-risk").split()[0] == "High"
    assert count(RiskAssessment) >= 1


def test_the_officer_sees_the_level_but_not_her_answers(client, session):
    case = demo_cases(session)[0]
    sign_in(client, "police.officer")
    page = html(client.get(f"/cases/{case.id}"))
    timeline = page_text(text_by_id(page, "risk-timeline"))
    assert "S-DASH" in timeline and "The answers are withheld: victim support" in timeline
    assert "Is the victim very frightened?" not in page


def test_perpetrator_facing_pages_never_show_safe_contact(client, session):
    sign_in(client, "advocate")
    case_path = client.post("/referrals/new", data=FORM).location
    client.post("/sign-out")
    sign_in(client, "coordinator")
    referral_id = db.session.scalar(select(Referral.id).where(
        Referral.case_id == int(case_path.rsplit("/", 1)[1])))
    client.post(f"/referrals/{referral_id}", data={"decision": "accept"})
    case_id = int(case_path.rsplit("/", 1)[1])
    assert client.post(f"/cases/{case_id}/members",
                       data={"username": "nhs.clinician"}).status_code == 302
    client.post("/sign-out")
    sign_in(client, "nhs.clinician")
    page = html(client.get(case_path))
    assert client.get(case_path).status_code == 200
    assert "Text only, after 6pm" not in page and "Safe ways to contact her" not in page


def test_screening_shows_who_already_knows_and_the_team_lets_them_join(client, session):
    first = demo_cases(session)[0]
    known = db.session.scalar(select(Referral).join(Case, Case.id == Referral.case_id).where(
        Case.summary.like("Police referral: a new%")))
    sign_in(client, "police.officer")  # take the coordinator off case 1 first
    place = db.session.scalar(select(Membership.id).join(User, User.id == Membership.user_id)
                              .where(Membership.case_id == first.id,
                                     User.username == "coordinator"))
    assert client.post(f"/cases/{first.id}/members/{place}/remove",
                       data={"confirm": "yes"}).status_code in (302, 303)
    client.post("/sign-out")
    sign_in(client, "coordinator")
    page = html(client.get(f"/referrals/{known.id}"))
    row = page_text(text_by_id(page, f"match-{first.id}"))
    assert first.reference in row and "(open)" in row and "Perpetrator: PNC ID" in row
    assert "Fenwick" not in page and "Claire" not in page
    r = client.post(f"/referrals/{known.id}/join", data={"case_id": str(first.id)})
    assert r.status_code == 302
    assert f"You have asked to join case {first.reference}" in page_text(html(client.get(
        r.location)))
    client.post("/sign-out")
    sign_in(client, "police.officer")
    page = html(client.get(f"/cases/{first.id}"))
    asks = page_text(text_by_id(page, "join-requests"))
    assert "Dana Whitlow (STAC coordinator) (Police) asks to join" in asks
    request_id = re.search(r'/join-requests/(\d+)"', page).group(1)
    r = client.post(f"/cases/{first.id}/join-requests/{request_id}",
                    data={"decision": "approve"})
    assert r.status_code == 302
    client.post("/sign-out")
    sign_in(client, "coordinator")
    assert client.get(f"/cases/{first.id}").status_code == 200


def test_closing_a_case_on_its_page_asks_why(client, session):
    case = db.session.get(Case, demo_cases(session)[0].id)
    sign_in(client, "advocate")
    form = {"version": str(case.version), "status": "closed", "risk_level": case.risk_level,
            "next_review_on": ""}
    r = client.post(f"/cases/{case.id}/core", data=form)
    assert r.status_code == 400
    assert problems(html(r)) == {"closure_reason": "Give the reason for closing the case"}
    r = client.post(f"/cases/{case.id}/core",
                    data={**form, "closure_reason": "Victim asked for no further contact."})
    assert r.status_code == 302
    listed = page_text(text_by_id(html(client.get(f"/cases/{case.id}")), "status-list"))
    assert "Referred on 2 September 2026" in listed
    assert listed.endswith("by Advocacy service: Victim asked for no further contact.")
