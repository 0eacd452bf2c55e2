"""Break-glass from where it is needed: a supervisor whose search for a case reference finds
nothing, or who meets a case's 404 page, is offered emergency access for what they typed.

The offer reveals nothing: it is made whenever such a search comes back empty, whether the
case exists or not, and the reference is resolved only when the request is made with a
reason; a case in another area and no case at all then get the same answer, audited."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from hub.accounts.models import Area
from hub.auditlog.models import AuditEvent
from hub.cases.models import BreakGlassGrant, Case
from tests.support.apps import demo_case_ids
from tests.support.factories import events_since, last_seq, leave_team, links, page_text, sign_in

REASON = "Victim unreachable tonight; risk to life reported by a neighbour."
NOWHERE = "STAC-LON-2026-99999"
OFFER = "Not on your cases: request emergency access"


def html(response) -> str:
    return response.get_data(as_text=True)


def without_tokens(page: str, *typed: str) -> str:
    """The page with its CSRF tokens, and what the person typed, blanked out."""
    page = re.sub(r'name="csrf_token" value="[^"]*"', 'name="csrf_token" value=""', page)
    for text in typed:
        page = page.replace(text, "TYPED")
    return page


def hampshire_case(session) -> Case:
    """A case in another area than the London supervisor's, with them off its team."""
    case = session.scalar(select(Case).join(Case.area).where(Area.code == "hampshire")
                          .order_by(Case.id))
    leave_team("police.supervisor", case.id)
    return case


def london_case_not_on(api) -> tuple[int, str]:
    created = api("police.officer").post("/cases", json={
        "perpetrator": {"name": "Perry Glasstest"}, "victims": [{"name": "Vera Glasstest"}]})
    assert created.status_code == 201
    return created.get_json()["id"], created.get_json()["reference"]


def search(client, q: str):
    return client.get("/cases/", query_string={"q": q})


def grants(session) -> int:
    return session.scalar(select(func.count(BreakGlassGrant.id)))


# -- the offer on an empty search ----------------------------------------------------------
def test_supervisor_searching_a_reference_they_cannot_see_is_offered_break_glass(api, client,
                                                                               session):
    _case_id, reference = london_case_not_on(api)
    sign_in(client, "police.supervisor")
    page = html(search(client, reference))
    assert OFFER in page_text(page)
    assert links(page, "break-glass") == [f"/cases/break-glass?reference={reference}"]
    assert "Glasstest" not in page  # nothing but the reference typed


def test_a_real_other_area_reference_and_a_made_up_one_give_the_same_page(client, session):
    other = hampshire_case(session)
    sign_in(client, "police.supervisor")
    real, invented = html(search(client, other.reference)), html(search(client, NOWHERE))
    assert OFFER in page_text(real)
    assert without_tokens(real, other.reference) == without_tokens(invented, NOWHERE)


def test_the_offer_follows_the_reference_typed_in_lower_case_too(client, session):
    sign_in(client, "police.supervisor")
    page = html(search(client, f"  {NOWHERE.lower()} "))
    assert links(page, "break-glass") == [f"/cases/break-glass?reference={NOWHERE.lower()}"]


@pytest.mark.parametrize("q", ["zzz-none", "Nobody Atall", "STAC-ZZZ-1999", "1999-99999"])
def test_searches_that_do_not_look_like_a_reference_offer_nothing(client, session, q):
    sign_in(client, "police.supervisor")
    page = html(search(client, q))
    assert "0 cases" in page_text(page) and OFFER not in page_text(page)
    assert links(page, "break-glass") == []


def test_a_search_that_finds_the_case_offers_nothing(client, session):
    reference = next(iter(demo_case_ids(session)))
    sign_in(client, "police.supervisor")
    page = html(search(client, reference))
    assert "1 case matching" in page_text(page) and OFFER not in page_text(page)


@pytest.mark.parametrize("username", ["police.officer", "outsider.officer", "nhs.clinician",
                                      "advocate"])
def test_users_who_may_not_break_glass_are_offered_nothing(client, session, username):
    other = hampshire_case(session)
    leave_team(username, other.id)
    sign_in(client, username)
    for q in (other.reference, NOWHERE):
        page = html(search(client, q))
        assert "0 cases" in page_text(page)
        assert OFFER not in page_text(page) and links(page, "break-glass") == []


# -- the request page, by reference --------------------------------------------------------
def test_the_request_page_takes_the_reference_and_resolves_nothing_yet(client, session):
    other = hampshire_case(session)
    sign_in(client, "police.supervisor")
    seq = last_seq()
    real = client.get("/cases/break-glass", query_string={"reference": other.reference})
    invented = client.get("/cases/break-glass", query_string={"reference": NOWHERE})
    assert real.status_code == invented.status_code == 200
    assert f'value="{other.reference}"' in html(real)
    assert without_tokens(html(real), other.reference) == \
        without_tokens(html(invented), NOWHERE)
    assert 'class="govuk-back-link"' in html(real)
    assert events_since(seq, "case:") == []


def test_requesting_by_reference_opens_a_case_in_your_area(api, client, session):
    case_id, reference = london_case_not_on(api)
    sign_in(client, "police.supervisor")
    seq = last_seq()
    opened = client.post("/cases/break-glass", data={"reference": reference, "reason": REASON})
    assert opened.status_code == 302 and opened.headers["Location"] == f"/cases/{case_id}"
    [glass] = events_since(seq, "case:break-glass")
    assert (glass.outcome, glass.case_id, glass.purpose) == ("allowed", case_id, "break-glass")
    page = html(client.get(f"/cases/{case_id}"))
    assert "Emergency access" in page and "Perry Glasstest" in page


def test_another_area_and_no_case_get_the_same_404_audited(client, session):
    other = hampshire_case(session)
    sign_in(client, "police.supervisor")
    seq = last_seq()
    answers = [client.post("/cases/break-glass", data={"reference": ref, "reason": REASON})
               for ref in (other.reference, NOWHERE)]
    assert [a.status_code for a in answers] == [404, 404]
    assert "There is no case with that reference in your area" in page_text(html(answers[0]))
    assert without_tokens(html(answers[0]), other.reference) == \
        without_tokens(html(answers[1]), NOWHERE)
    assert grants(session) == 0
    refused = events_since(seq, "case:break-glass")
    assert [(e.outcome, e.case_id, e.rule) for e in refused] == [
        ("denied", other.id, "case in another area"), ("denied", None, "no such case")]
    assert [e.details for e in refused] == [{"requested_reference": other.reference},
                                            {"requested_reference": NOWHERE}]


@pytest.mark.parametrize(("form", "fields"), [
    ({"reference": NOWHERE, "reason": ""}, ["#reason"]),
    ({"reference": NOWHERE, "reason": "too short"}, ["#reason"]),
    ({"reference": "", "reason": REASON}, ["#reference"]),
    ({"reference": "Marcus Fenwick-Example", "reason": REASON}, ["#reference"]),
    ({"reference": "x" * 40, "reason": ""}, ["#reference", "#reason"]),
])
def test_bad_requests_are_400_naming_every_field_and_resolve_nothing(client, session, form,
                                                                    fields):
    sign_in(client, "police.supervisor")
    seq = last_seq()
    response = client.post("/cases/break-glass", data=form)
    assert response.status_code == 400
    summary = re.search(r'<div class="govuk-error-summary".*?</ul>', html(response), re.S)
    assert links(summary.group(0), "^#") == fields
    assert events_since(seq, "case:") == [] and grants(session) == 0


def test_a_nul_character_is_400_and_resolves_nothing(client, session):
    sign_in(client, "police.supervisor")
    seq = last_seq()
    for form in ({"reference": "STAC\x00", "reason": REASON},
                 {"reference": NOWHERE, "reason": REASON + "\x00"}):
        assert client.post("/cases/break-glass", data=form).status_code == 400
    assert events_since(seq, "case:") == [] and grants(session) == 0


def test_a_typed_reference_that_is_not_one_is_400_on_the_page_too(client, session):
    sign_in(client, "police.supervisor")
    response = client.get("/cases/break-glass", query_string={"reference": "x" * 40})
    assert response.status_code == 400 and "There is a problem" in html(response)


@pytest.mark.parametrize("username", ["police.officer", "nhs.clinician", "dpo", "admin"])
def test_the_request_page_is_refused_to_those_who_may_not_break_glass(client, session,
                                                                      username):
    sign_in(client, username)
    seq = last_seq()
    assert client.get("/cases/break-glass",
                      query_string={"reference": NOWHERE}).status_code == 403
    assert client.post("/cases/break-glass",
                       data={"reference": NOWHERE, "reason": REASON}).status_code == 403
    assert [(e.action, e.outcome) for e in events_since(seq)] == [
        ("case:break-glass", "denied")] * 2


# -- the offer on a case's 404 page --------------------------------------------------------
def test_a_case_404_offers_break_glass_by_id_revealing_nothing(client, session):
    other = hampshire_case(session)
    missing = session.scalar(select(func.max(Case.id))) + 1000
    sign_in(client, "police.supervisor")
    real, invented = client.get(f"/cases/{other.id}"), client.get(f"/cases/{missing}")
    assert real.status_code == invented.status_code == 404
    assert links(html(real), "break-glass") == [f"/cases/{other.id}/break-glass"]
    assert OFFER in page_text(html(real))
    assert without_tokens(html(real), f"/cases/{other.id}/") == \
        without_tokens(html(invented), f"/cases/{missing}/")
    assert other.reference not in html(real)


def test_the_break_glass_page_by_id_resolves_only_on_a_reasoned_request(client, session):
    other = hampshire_case(session)
    missing = session.scalar(select(func.max(Case.id))) + 1000
    sign_in(client, "police.supervisor")
    seq = last_seq()
    pages = [client.get(f"/cases/{n}/break-glass") for n in (other.id, missing)]
    assert [p.status_code for p in pages] == [200, 200]
    assert without_tokens(html(pages[0]), f"case {other.id}") == \
        without_tokens(html(pages[1]), f"case {missing}")
    unreasoned = [client.post(f"/cases/{n}/break-glass", data={"reason": ""})
                  for n in (other.id, missing)]
    assert [p.status_code for p in unreasoned] == [400, 400]
    assert events_since(seq, "case:") == []
    reasoned = [client.post(f"/cases/{n}/break-glass", data={"reason": REASON})
                for n in (other.id, missing)]
    assert [p.status_code for p in reasoned] == [404, 404]
    assert [e.outcome for e in events_since(seq, "case:break-glass")] == ["denied", "denied"]
    assert grants(session) == 0


@pytest.mark.parametrize("username", ["police.officer", "outsider.officer", "nhs.clinician"])
def test_a_case_404_offers_nothing_to_those_who_may_not_break_glass(client, session,
                                                                    username):
    other = hampshire_case(session)
    leave_team(username, other.id)
    sign_in(client, username)
    page = client.get(f"/cases/{other.id}")
    assert page.status_code == 404
    assert links(html(page), "break-glass") == [] and OFFER not in page_text(html(page))


def test_other_404_pages_offer_nothing(client, session):
    sign_in(client, "police.supervisor")
    page = client.get("/no-such-page")
    assert page.status_code == 404 and links(html(page), "break-glass") == []


def test_reads_under_break_glass_name_their_grant(api, session):
    """So that the DPO's review of the grant lists exactly what was read under it."""
    case_id, _reference = london_case_not_on(api)
    granted = api("police.supervisor").post(f"/cases/{case_id}/break-glass",
                                            json={"reason": REASON})
    assert granted.status_code == 200
    grant = session.scalars(select(BreakGlassGrant).where(
        BreakGlassGrant.case_id == case_id)).one()
    viewed = api("police.supervisor").get(f"/cases/{case_id}")
    assert (viewed.status_code, viewed.json["access"]) == (200, "break_glass")
    read = session.scalars(select(AuditEvent).where(
        AuditEvent.case_id == case_id, AuditEvent.action == "case:read")
        .order_by(AuditEvent.seq.desc())).first()
    assert (read.username, read.purpose, read.grant_id) == (
        "police.supervisor", "break-glass", grant.id)
