"""The three web journeys through the HTML pages (the Flask test client, no browser):
an officer working cases, a clinician's notes crossing agencies, and a DPO's audit search.
Also case creation, team changes and break-glass through the forms."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import func, select

from hub.auditlog.models import AuditEvent
from hub.cases.models import BreakGlassGrant, Case, Membership
from hub.seed import CASES
from tests.support.apps import demo_case_ids
from tests.support.factories import events_since, last_seq, links, page_text, sign_in, text_by_id

VICTIM_LOCATIONS = [v[f] for c in CASES for v in c["victims"]
                    for f in ("address", "phone", "email", "workplace") if v.get(f)]


@contextmanager
def frozen(at: datetime | None = None):
    with time_machine.travel(at or datetime.now(UTC), tick=False) as traveller:
        yield traveller


def demo_cases(session) -> tuple[str, int, str, int]:
    """The first two demo cases (Fenwick's, then Imaginary's): reference and id of each."""
    (ref1, id1), (ref2, id2), *_rest = demo_case_ids(session).items()
    return ref1, id1, ref2, id2


def html(response) -> str:
    return response.get_data(as_text=True)


def new_case_form(**overrides) -> dict:
    return {"perpetrator_name": "Vincent Formfill", "victim_name": "Tessa Formvictim",
            "victim_address": "5 Formfield Road, London N9 0ZZ", "victim_phone": "07700 900999",
            "risk_level": "high", "summary": "Created through the form.", **overrides}


def create_through_form(client, **overrides) -> int:
    response = client.post("/cases/new", data=new_case_form(**overrides))
    assert response.status_code == 302, html(response)[:400]
    return int(re.fullmatch(r"/cases/(\d+)", response.headers["Location"]).group(1))


# -- where each person lands, and what the menu offers them ---------------------------------
@pytest.mark.parametrize(("username", "home", "menu"), [
    ("police.officer", "/cases/", ["Cases"]),
    ("nhs.clinician", "/cases/", ["Cases"]),
    ("dpo", "/dpo/", ["DPO console", "Audit log", "Policy"]),
    ("admin", "/admin/", ["Policy", "Administration"]),
])
def test_each_person_lands_on_their_own_work(client, session, username, home, menu):
    sign_in(client, username)
    landing = client.get("/")
    assert landing.status_code == 302 and landing.headers["Location"] == home
    page = html(client.get(home))
    nav = page[page.index('aria-label="Menu"'):page.index("</nav>")]
    assert re.findall(r'govuk-header__link" href="[^"]+">([^<]+)</a>', nav) == menu


# -- journey 1: a police officer works their cases ------------------------------------------
def test_officer_lists_searches_and_opens_a_case(client, session):
    ids = demo_case_ids(session)
    fenwick, fenwick_id, *_ = demo_cases(session)
    sign_in(client, "police.officer")
    listing = html(client.get("/cases/"))
    assert all(ref in listing for ref in ids) and "5 cases" in page_text(listing)
    by_ref = html(client.get("/cases/", query_string={"q": fenwick}))
    assert "1 case matching" in page_text(by_ref) and "Marcus Fenwick-Example" in by_ref
    by_name = html(client.get("/cases/", query_string={"q": "fenwick"}))
    assert links(by_name, r"^/cases/\d+$") == [f"/cases/{fenwick_id}"]
    assert "0 cases" in page_text(html(client.get("/cases/", query_string={"q": "zzz-none"})))

    page = client.get(f"/cases/{fenwick_id}")
    body = html(page)
    assert page.status_code == 200
    assert "Marcus Fenwick-Example" in text_by_id(body, "perpetrator")
    assert "2004/0112233X" in text_by_id(body, "perpetrator")
    victims = " ".join(t for t in re.findall(r'id="(victim-\d+)"', body)
                       for t in [text_by_id(body, t)])
    assert "Claire Example-Holt" in victims and "Flat 3, 12 Example Road" in victims
    assert "Dr Priya Nandra (NHS)" in text_by_id(body, "team")
    text = page_text(body)
    assert "vehicle tracker" in text  # intelligence
    assert "Stalking Protection Order: no contact" in text and "Breach recorded" in text
    assert "Safety plan agreed" in text  # police read the safety plan...
    assert "wishes to support prosecution" not in text  # ...and no other advocacy note
    assert "Session 3" not in text and "Privileged advice" not in text
    withheld = " ".join(text_by_id(body, "withheld-list").split())
    assert "Clinical notes: held by NHS." in withheld
    assert "Legal advice (privileged): held by CPS." in withheld
    assert "Victim support and safety planning: partly withheld. You can see its safety " \
        "plans only; the rest is held by Advocacy service." in withheld
    assert "Withheld information" in text


def test_officer_visits_are_audited_with_what_was_disclosed(client, session):
    _ref, fenwick_id, *_ = demo_cases(session)
    sign_in(client, "police.officer")
    seq = last_seq()
    client.get("/cases/", query_string={"q": "fenwick"})
    client.get(f"/cases/{fenwick_id}")
    search, read = events_since(seq, "case:")
    assert (search.action, search.details["case_ids"]) == ("case:search", [fenwick_id])
    assert (read.action, read.case_id, read.username) == ("case:read", fenwick_id,
                                                          "police.officer")
    assert "victim.location" in read.classes and "clinical" not in read.classes


def test_outsider_sees_no_cases_and_no_case_exists_for_them(client, session):
    _ref, fenwick_id, *_ = demo_cases(session)
    sign_in(client, "outsider.officer")
    listing = html(client.get("/cases/", query_string={"q": "fenwick"}))
    assert "0 cases" in page_text(listing) and "Fenwick" not in listing
    assert client.get(f"/cases/{fenwick_id}").status_code == 404


# -- journey 2: a clinician's notes, and what police see of them --------------------------------
def test_clinical_notes_reach_police_only_as_the_summary(client, session):
    case_id = demo_cases(session)[1]
    sign_in(client, "nhs.clinician")
    seen = [html(client.get("/cases/")), html(client.get(f"/cases/{case_id}")),
            html(client.get("/cases/", query_string={"q": "Claire"}))]
    form = client.get(f"/cases/{case_id}/notes/new")
    seen.append(html(form))
    assert ':clinical"' in seen[-1] and ':victim.location"' not in seen[-1]  # kind:class
    for cls, body in (("clinical", "Session 9: new fixation on the victim's workplace."),
                      ("clinical.summary", "Summary 9: risk raised; advise police.")):
        done = client.post(f"/cases/{case_id}/notes/new",
                           data={"class": cls, "kind": "intervention", "body": body})
        assert done.status_code == 302 and done.headers["Location"] == f"/cases/{case_id}"
    seen.append(html(client.get(f"/cases/{case_id}")))
    assert "Session 9" in seen[-1] and "Summary 9" in seen[-1]
    refused = client.post(f"/cases/{case_id}/notes/new",
                          data={"class": "victim.location", "body": "an address"})
    seen.append(html(refused))
    assert refused.status_code in (400, 403)
    for page in seen:  # a perpetrator-facing worker never receives a victim's location
        assert not [loc for loc in VICTIM_LOCATIONS if loc in page]
    client.post("/sign-out")

    sign_in(client, "police.officer")
    officer = page_text(html(client.get(f"/cases/{case_id}")))
    assert "Summary 9: risk raised" in officer
    assert "Session 9" not in officer


def test_bad_notes_are_refused_with_400_and_write_nothing(client, session):
    case_id = demo_cases(session)[1]
    sign_in(client, "nhs.clinician")
    seq = last_seq()
    for data in ({"class": "clinical", "body": ""}, {"class": "no.such.class", "body": "x"},
                 {"class": "clinical", "body": "x", "kind": "not-a-kind"},
                 {"class": "clinical", "body": "x", "restricted_to": "martians"}):
        assert client.post(f"/cases/{case_id}/notes/new", data=data).status_code == 400
    assert [e.action for e in events_since(seq, "entry:")] == []


# -- journey 3: the DPO audits, and cannot see cases ------------------------------------------
def _audit_page(body: str) -> tuple[int, list[int], str | None]:
    """The total, the event numbers listed, and the Next link of one audit page."""
    total = int(re.search(r"\d+", text_by_id(body, "total")).group())
    seqs = [int(s) for s in re.findall(r'<tr class="govuk-table__row">\s*'
                                       r'<td class="govuk-table__cell">(\d+)</td>', body)]
    nxt = re.search(r'<a [^>]*href="([^"]+)"[^>]*rel="next"', body)
    return total, seqs, nxt.group(1).replace("&amp;", "&") if nxt else None


def _walk(client, **filters) -> tuple[int, list[int], int]:
    """Every page of a filtered search, following the page's own Next links."""
    response = client.get("/audit/", query_string=filters)
    seqs, pages, total = [], 0, None
    while response is not None:
        assert response.status_code == 200, html(response)[:500]
        page_total, listed, nxt = _audit_page(html(response))
        assert total in (None, page_total)  # the total does not drift between pages
        total, pages = page_total, pages + 1
        seqs += listed
        response = client.get(nxt) if nxt else None
    return total, seqs, pages


def _expected(session, **where) -> list[int]:
    query = select(AuditEvent.seq).order_by(AuditEvent.seq.desc())
    for name, value in where.items():
        if name == "since":
            query = query.where(AuditEvent.at >= value)
        elif name == "until":
            query = query.where(AuditEvent.at < value)
        else:
            query = query.where(getattr(AuditEvent, name) == value)
    return list(session.scalars(query))


def _make_history(client, session, days_ago: int, reads: int) -> datetime:
    """An officer's visits, all at one moment ``days_ago`` days back."""
    _ref, fenwick_id, _ref2, other_id = demo_cases(session)
    at = datetime.now(UTC).replace(microsecond=0) - timedelta(days=days_ago)
    with frozen(at):
        sign_in(client, "police.officer")
        for _ in range(reads):
            client.get(f"/cases/{fenwick_id}")
        client.get(f"/cases/{other_id}")
        client.get("/cases/999999")  # denied: not found
        client.post("/sign-out")
    return at


def test_dpo_filters_and_pages_match_the_database(client, session):
    _ref, fenwick_id, *_ = demo_cases(session)
    first = _make_history(client, session, days_ago=3, reads=4)
    _make_history(client, session, days_ago=2, reads=3)
    sign_in(client, "dpo")
    page = html(client.get("/audit/"))
    for field in ("username", "agency", "case_id", "action", "outcome", "since", "until"):
        assert f'id="{field}"' in page and f'name="{field}"' in page
    window = {"since": (first - timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S"),
              "until": (first + timedelta(minutes=1)).strftime("%Y-%m-%dT%H:%M:%S")}
    searches = [
        ({"username": "police.officer", "action": "case:read"},
         {"username": "police.officer", "action": "case:read"}),
        ({"agency": "police", "outcome": "denied"}, {"agency": "police", "outcome": "denied"}),
        ({"case_id": str(fenwick_id), "username": "police.officer"},
         {"case_id": fenwick_id, "username": "police.officer"}),
        ({**window, "action": "case:read"},
         {"since": first - timedelta(minutes=1), "until": first + timedelta(minutes=1),
          "action": "case:read"}),
    ]
    for filters, where in searches:
        expected = _expected(session, **where)
        assert expected, filters
        total, seqs, pages = _walk(client, **filters, per_page="2")
        assert total == len(expected), filters
        assert seqs == expected, filters  # every event once, newest first, no gaps
        assert pages == -(-len(expected) // 2), filters
    windowed = _expected(session, since=first - timedelta(minutes=1),
                         until=first + timedelta(minutes=1), action="case:read")
    assert len(windowed) == 6  # three days ago: five reads and one denial


def test_dpo_sees_bad_filters_as_400(client, session):
    sign_in(client, "dpo")
    for bad in ({"outcome": "maybe"}, {"case_id": "abc"}, {"since": "yesterday"},
                {"page": "0"}, {"per_page": "100000"}):
        assert client.get("/audit/", query_string=bad).status_code == 400, bad


@pytest.mark.parametrize("method, path", [
    ("get", "/cases/"), ("get", "/cases/new"), ("post", "/cases/new"), ("get", "/cases/{id}"),
    ("get", "/cases/{id}/notes/new"), ("post", "/cases/{id}/notes/new"),
    ("post", "/cases/{id}/members"), ("get", "/cases/{id}/break-glass"),
    ("post", "/cases/{id}/break-glass"),
])
def test_dpo_cannot_open_any_case_page(client, session, method, path):
    case_id = demo_cases(session)[1]
    sign_in(client, "dpo")
    seq = last_seq()
    response = getattr(client, method)(path.format(id=case_id),
                                       data={"body": "x", "class": "case.core",
                                             "username": "dpo", "reason": "x" * 20,
                                             **new_case_form()})
    assert response.status_code in (403, 404)
    assert "Fenwick" not in html(response) and "Claire" not in html(response)
    assert [e.outcome for e in events_since(seq)] == ["denied"]


def test_case_workers_cannot_open_the_audit_log(client, session):
    sign_in(client, "police.supervisor")
    assert client.get("/audit/").status_code == 403


# -- case creation, the team, and break-glass through the forms ------------------------------
@pytest.mark.parametrize("username", ["police.officer", "advocate"])
def test_case_creation_through_the_form(client, session, username):
    sign_in(client, username)
    seq = last_seq()
    case_id = create_through_form(client)
    page = html(client.get(f"/cases/{case_id}"))
    assert "Vincent Formfill" in page and "5 Formfield Road, London N9 0ZZ" in page
    [created] = events_since(seq, "case:create")
    assert (created.case_id, created.username) == (case_id, username)
    assert "victim.location" in created.classes


def test_bad_case_forms_get_400_and_write_nothing(client, session):
    sign_in(client, "police.officer")
    before = session.scalar(select(func.count(Case.id)))
    seq = last_seq()
    for bad in ({"perpetrator_name": ""}, {"victim_name": ""}, {"risk_level": "extreme"},
                {"victim_email": "not-an-email"}, {"victim_phone": "call me"},
                {"summary": "x" * 501}):
        response = client.post("/cases/new", data=new_case_form(**bad))
        assert response.status_code == 400, bad
        assert "There is a problem" in html(response)
    assert session.scalar(select(func.count(Case.id))) == before
    assert events_since(seq, "case:create") == []


def test_empty_case_form_lists_every_field_in_error(client, session):
    """The GOV.UK error summary names every field in error, each linked to its field, and
    each field shows its own message: not only the first problem found."""
    sign_in(client, "police.officer")
    before = session.scalar(select(func.count(Case.id)))
    response = client.post("/cases/new", data={"perpetrator_name": "", "victim_name": "",
                                               "victim_address": "", "risk_level": "standard",
                                               "summary": ""})
    assert response.status_code == 400
    page = html(response)
    summary = re.search(r'<div class="govuk-error-summary".*?</ul>', page, re.S).group(0)
    assert links(summary, "^#") == ["#perpetrator-name", "#victims-0-name"]
    for field, words in (("perpetrator-name", "perpetrator"), ("victims-0-name", "victim")):
        message = text_by_id(page, f"{field}-error")
        assert message is not None and words in message.lower(), (field, message)
        assert message.removeprefix("Error: ") in page_text(summary), (field, message)
        assert re.search(rf'<input class="govuk-input govuk-input--error" id="{field}"'
                         rf'[^>]*aria-describedby="{field}-error"', page), field
    assert session.scalar(select(func.count(Case.id))) == before

    response = client.post("/cases/new", data=new_case_form(
        perpetrator_name="", victim_email="not-an-email", victim_phone="call me",
        risk_level="extreme", summary="x" * 501))
    assert response.status_code == 400
    summary = re.search(r'<div class="govuk-error-summary".*?</ul>', html(response), re.S)
    assert links(summary.group(0), "^#") == [
        "#perpetrator-name", "#victims-0-phone", "#victims-0-email", "#risk_level", "#summary"]
    for field in ("perpetrator-name", "victims-0-phone", "victims-0-email", "risk_level",
                  "summary"):
        assert text_by_id(html(response), f"{field}-error"), field
    assert session.scalar(select(func.count(Case.id))) == before


def test_clinicians_cannot_create_cases(client, session):
    sign_in(client, "nhs.clinician")
    assert client.get("/cases/new").status_code == 403
    assert client.post("/cases/new", data=new_case_form()).status_code == 403


def test_adding_a_team_member_through_the_form(client, session):
    sign_in(client, "police.officer")
    case_id = create_through_form(client)
    added = client.post(f"/cases/{case_id}/members", data={"username": "nhs.clinician"})
    assert added.status_code == 302
    assert "Dr Priya Nandra (NHS)" in text_by_id(html(client.get(f"/cases/{case_id}")), "team")
    memberships = session.scalar(select(func.count(Membership.id))
                                 .where(Membership.case_id == case_id))
    for bad in ({"username": "no.such.user"}, {"username": "dpo"},
                {"username": "nhs.clinician"}, {}):
        refused = client.post(f"/cases/{case_id}/members", data=bad)
        assert refused.status_code in (400, 409), bad
        assert "There is a problem" in html(refused)
    assert session.scalar(select(func.count(Membership.id))
                          .where(Membership.case_id == case_id)) == memberships
    client.post("/sign-out")
    sign_in(client, "nhs.clinician")
    page = html(client.get(f"/cases/{case_id}"))
    assert "Vincent Formfill" in page and "5 Formfield Road" not in page
    assert client.post(f"/cases/{case_id}/members",
                       data={"username": "advocate"}).status_code == 403


def test_break_glass_through_the_form_is_recorded_and_ends(client, session, app):
    reason = "Victim reported imminent threat; duty supervisor needs the address now."
    with frozen() as clock:
        sign_in(client, "outsider.officer")
        case_id = create_through_form(client)  # a case police.supervisor is not on
        client.post("/sign-out")
        sign_in(client, "police.supervisor")
        assert client.get(f"/cases/{case_id}").status_code == 404
        assert client.get(f"/cases/{case_id}/break-glass").status_code == 200
        short = client.post(f"/cases/{case_id}/break-glass", data={"reason": "urgent"})
        assert short.status_code == 400
        assert session.scalar(select(func.count(BreakGlassGrant.id))) == 0
        seq = last_seq()
        opened = client.post(f"/cases/{case_id}/break-glass", data={"reason": reason})
        assert opened.headers["Location"] == f"/cases/{case_id}"
        page = html(client.get(f"/cases/{case_id}"))
        assert "Emergency access" in page and "5 Formfield Road" in page
        grant = session.scalar(select(BreakGlassGrant).where(BreakGlassGrant.case_id == case_id))
        assert grant.reason == reason
        minutes = app.config["HUB_BREAK_GLASS_MINUTES"]
        assert grant.expires_at == datetime.now(UTC) + timedelta(minutes=minutes)
        glass, read = events_since(seq, "case:")
        assert (glass.action, glass.purpose, glass.grant_id) == (
            "case:break-glass", "break-glass", grant.id)
        assert glass.details["severity"] == "high"
        assert (read.action, read.purpose) == ("case:read", "break-glass")
        for _ in range(minutes // 14):  # stay signed in while the grant runs out
            clock.shift(timedelta(minutes=14))
            client.get("/cases/")
        clock.shift(timedelta(minutes=minutes % 14, seconds=1))
        assert client.get(f"/cases/{case_id}").status_code == 404
        client.post("/sign-out")
        sign_in(client, "dpo")
        shown = html(client.get("/audit/", query_string={"break_glass": "true"}))
        assert f"Reason: {reason}" in page_text(shown)


def test_break_glass_is_refused_to_an_officer(client, session):
    sign_in(client, "outsider.officer")
    case_id = create_through_form(client)  # a case police.officer is not on
    client.post("/sign-out")
    sign_in(client, "police.officer")
    seq = last_seq()
    assert client.get(f"/cases/{case_id}/break-glass").status_code == 403
    refused = client.post(f"/cases/{case_id}/break-glass",
                          data={"reason": "I would like to see this case please."})
    assert refused.status_code == 403 and "Formfill" not in html(refused)
    assert session.scalar(select(func.count(BreakGlassGrant.id))) == 0
    assert [(e.action, e.outcome) for e in events_since(seq)] == [
        ("case:break-glass", "denied"), ("case:break-glass", "denied")]
    assert client.get(f"/cases/{case_id}").status_code == 404
