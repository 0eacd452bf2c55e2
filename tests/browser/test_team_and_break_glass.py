"""The case team and break-glass where it is needed, in a real Chromium: a supervisor's
search for a case they are not on leads to emergency access and into the case; a team
member finds a colleague by name, adds and then removes them; and no main page scrolls
sideways on a 390 px phone screen. Every page on the way passes axe-core and carries no
inline code (the journeys run with a pointer, the keyboard alone and JavaScript off)."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.browser import data, journeys, support

PHONE = {"width": 390, "height": 844}


def test_supervisor_reaches_break_glass_from_a_search_and_opens_the_case(ui, hub):
    _case_id, reference = data.new_case(hub, summary="Break-glass from a search.")
    page = ui.page
    journeys.sign_in(ui, "police.supervisor")
    ui.fill("Search by reference or name", reference)
    ui.follow(page.get_by_role("button", name="Search"))
    expect(page.get_by_text("0 cases matching your search")).to_be_visible()
    offer = page.locator("#break-glass-offer")
    expect(offer).to_contain_text(f"Not on your cases: request emergency access to {reference}")
    expect(page.locator("main")).not_to_contain_text("Perry Browsertest")
    ui.follow(offer.get_by_role("link", name="request emergency access"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Request emergency access to a case")
    expect(page.get_by_label("Case reference", exact=True)).to_have_value(reference)
    ui.follow(page.get_by_role("button", name="Open the case"))  # no reason yet
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Enter why you need access now")
    ui.fill("Why do you need access now?", f"Victim unreachable; risk to life ({ui.mode})")
    ui.follow(page.get_by_role("button", name="Open the case"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {reference}")
    expect(page.get_by_role("region", name="Emergency access")).to_contain_text(
        "break-glass access until")
    banner = page.locator(".govuk-notification-banner--success")
    expect(banner).to_have_attribute("role", "alert")
    expect(banner).to_contain_text("Emergency access granted")


def test_a_case_they_cannot_see_offers_break_glass_by_number(open_ui, hub):
    case_id, reference = data.new_case(hub)
    ui = open_ui("pointer")
    journeys.sign_in(ui, "police.supervisor")
    assert ui.goto(f"/cases/{case_id}") == 404
    expect(ui.page.locator("main")).not_to_contain_text(reference)
    ui.follow(ui.page.locator("#break-glass-offer").get_by_role(
        "link", name="request emergency access"))
    expect(ui.page.get_by_role("heading", level=1)).to_have_text(
        f"Emergency access to case {case_id}")


def test_team_member_adds_a_colleague_by_name_and_removes_them(ui, hub):
    case_id, reference = data.new_case(hub)
    page = ui.page
    journeys.sign_in(ui, "police.officer")
    ui.goto(f"/cases/{case_id}")
    ui.follow(page.get_by_role("link", name=re.compile("^Change the team")))
    expect(page.get_by_role("heading", level=1)).to_have_text("Change the team")
    expect(page.locator(".govuk-back-link")).to_have_attribute("href", f"/cases/{case_id}")
    ui.fill("Name", "nandra")
    ui.follow(page.get_by_role("button", name="Search staff"))
    results = page.locator("#staff-results")
    expect(results).to_contain_text("Dr Priya Nandra")
    expect(results).to_contain_text("Clinician")
    ui.follow(results.get_by_role("button", name="Add Dr Priya Nandra"))
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "Dr Priya Nandra is added to the case team.")
    members = page.locator("#team-members")
    expect(members).to_contain_text("Dr Priya Nandra")
    ui.follow(members.get_by_role("link", name="Remove Dr Priya Nandra from the team"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Remove Dr Priya Nandra from the case team?")
    ui.follow(page.get_by_role("button", name="Remove from the team"))
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "Dr Priya Nandra is removed from the case team.")
    expect(page.locator("#team-members")).not_to_contain_text("Nandra")
    ui.follow(page.locator(".govuk-back-link"))
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {reference}")
    expect(page.locator("#team")).not_to_contain_text("Nandra")


# -- a 390 px phone screen ---------------------------------------------------------------
MAIN_PAGES = {
    "police.officer": ["/cases/", "/cases/?q=Fenwick", "/cases/{case}", "/cases/{case}/team",
                       "/cases/{case}/team?name=a", "/cases/{case}/members/{member}/remove",
                       "/cases/{case}/notes/new", "/cases/new", "/account"],
    "police.supervisor": ["/cases/?q=STAC-LON-2026-99999",
                          "/cases/break-glass?reference=STAC-LON-2026-99999",
                          "/cases/99999", "/cases/99999/break-glass"],
    "nhs.clinician": ["/cases/{case}"],
    "dpo": ["/dpo/", "/audit/", "/audit/cases/{case}", "/dpo/alerts", "/policy/"],
    "admin": ["/admin/", "/admin/users", "/admin/agencies", "/admin/roles"],
}


@pytest.mark.parametrize("username", [None, *MAIN_PAGES])
def test_no_main_page_scrolls_sideways_on_a_phone(browser, hub, username):
    case_id = data.case_id(hub, journeys.FIRST_CASE)
    context = browser.new_context(viewport=PHONE, base_url=hub.url, locale="en-GB")
    console = support.Console()
    console.listen(context)
    page = context.new_page()
    try:
        if username is None:
            paths = ["/sign-in"]
        else:
            _sign_in(page, username)
            paths = MAIN_PAGES[username]
        for path in paths:
            response = page.goto(path.format(case=case_id,
                                             member=_a_membership(hub, case_id)))
            assert response.status < 500, path
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= PHONE["width"], f"{path} is {width} px wide at 390 px"
            support.check_page(page, console)
    finally:
        context.close()


def _sign_in(page, username: str) -> None:
    page.goto("/sign-in")
    page.get_by_label("Username", exact=True).fill(username)
    page.get_by_label("Password", exact=True).fill(support.DEMO_PASSWORD)
    page.get_by_role("button", name="Continue").click()
    page.wait_for_load_state("load")
    expect(page).not_to_have_url(re.compile(r"/sign-in"))


def _a_membership(hub, case_id: int) -> int:
    """The advocate's place on the demo case's team (its removal page is only looked at)."""
    from sqlalchemy import select

    from hub.accounts.models import User
    from hub.cases.models import Membership
    from hub.extensions import db

    with hub.app.app_context():
        return db.session.scalar(select(Membership.id).join(
            User, User.id == Membership.user_id).where(
            Membership.case_id == case_id, User.username == "advocate"))
