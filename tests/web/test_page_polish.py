"""Page polish every page shares: a favicon, back links on the pages under a case, and one
banner style for success and one for problems (GOV.UK notification banner and error
summary)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from hub.cases.models import Membership
from tests.support.apps import demo_case_ids
from tests.support.factories import links, page_text, sign_in, user_named


def html(response) -> str:
    return response.get_data(as_text=True)


def test_favicon_is_linked_and_answers_at_its_usual_address(client, session):
    page = html(client.get("/sign-in"))
    assert '<link rel="icon" href="/static/favicon.svg" type="image/svg+xml">' in page
    for path in ("/static/favicon.svg", "/favicon.ico"):
        icon = client.get(path)
        assert icon.status_code == 200, path
        assert icon.mimetype == "image/svg+xml" and icon.data.startswith(b"<svg"), path
        icon.close()


def test_favicon_needs_no_sign_in_and_skips_the_code_page(client, session):
    """A browser asks for it on its own, even on the code page: it must not be redirected
    (to the code page, which would start enrolment again)."""
    from tests.support.factories import PASSWORD, make_user

    user = make_user("nhs", "clinician")
    assert client.post("/sign-in", data={"username": user.username,
                                         "password": PASSWORD}).status_code == 302
    icon = client.get("/favicon.ico")
    assert icon.status_code == 200
    icon.close()


def _back_links(page: str) -> list[str]:
    return re.findall(r'<a href="([^"]+)" class="govuk-back-link">', page)


@pytest.mark.parametrize(("username", "path", "back"), [
    ("police.officer", "/cases/{case}/notes/new", "/cases/{case}"),
    ("police.officer", "/cases/{case}/team", "/cases/{case}"),
    ("police.officer", "/cases/{case}/members/{member}/remove", "/cases/{case}/team"),
    ("police.supervisor", "/cases/{case}/break-glass", "/cases/"),
    ("police.supervisor", "/cases/break-glass", "/cases/"),
    ("police.supervisor", "/cases/break-glass?reference=STAC-LON-2026-99999",
     "/cases/?q=STAC-LON-2026-99999"),
])
def test_every_page_under_a_case_has_a_back_link(client, session, username, path, back):
    case = min(demo_case_ids(session).values())
    member = session.scalar(select(Membership.id).where(
        Membership.case_id == case, Membership.user_id == user_named("advocate").id))
    sign_in(client, username)
    page = client.get(path.format(case=case, member=member))
    assert page.status_code == 200
    assert _back_links(html(page)) == [back.format(case=case)]


def _new_case(client) -> int:
    created = client.post("/cases/new", data={"perpetrator_name": "Perry Polish",
                                               "victim_name": "Vera Polish"})
    client.get(created.headers["Location"])  # shows, and so uses up, its own message
    return int(created.headers["Location"].rsplit("/", 1)[1])


def test_success_is_a_success_notification_banner(client, session):
    sign_in(client, "police.officer")
    case = _new_case(client)
    client.post(f"/cases/{case}/members", data={"username": "nhs.clinician"})
    page = html(client.get(f"/cases/{case}"))
    banner = re.search(r'<div class="govuk-notification-banner[^"]*"[^>]*>.*?</div>\s*</div>',
                       page, re.S).group(0)
    assert 'class="govuk-notification-banner govuk-notification-banner--success"' in banner
    assert 'role="alert"' in banner
    assert re.search(r'govuk-notification-banner__title"[^>]*>Success<', banner)
    assert "Added to the case team." in page_text(banner)
    assert "govuk-error-summary" not in page


def test_a_problem_is_an_error_summary_never_a_banner(client, session):
    sign_in(client, "police.officer")
    case = _new_case(client)
    refused = client.post(f"/cases/{case}/members", data={"username": "no.such.user"})
    assert refused.status_code == 400
    page = html(refused)
    summary = re.search(r'<div class="govuk-error-summary".*?</ul>', page, re.S).group(0)
    assert "There is a problem" in summary and "no such active user" in summary
    assert 'role="alert"' in summary
    assert "govuk-notification-banner--success" not in page
    assert not re.search(r'govuk-notification-banner__title"[^>]*>There is a problem<', page)
    assert links(summary, "^#") == []  # no field to link to: the words alone
