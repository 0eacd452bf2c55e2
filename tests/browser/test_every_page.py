"""Every page each kind of user can reach, found by following links from the start page, is
checked with axe-core and for inline code; and the withheld-information panel says exactly
what the JSON API says is withheld."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import expect

from tests.browser import data, journeys

# Links that leave the page for a file download, or end the session, are not pages to visit.
NOT_PAGES = re.compile(r"/(static|assets)/|/sign-out|export|download|\.csv|\.json", re.I)
MAX_PAGES = 25


def _shape(url: str) -> tuple[str, tuple[str, ...]]:
    parts = urlsplit(url)
    keys = tuple(sorted({p.split("=")[0] for p in parts.query.split("&") if p}))
    return re.sub(r"\d+", "N", parts.path), keys


def crawl(ui, start: str = "/") -> list[str]:
    """Visit one page of every shape reachable from ``start``; return the addresses seen."""
    queue, seen, visited = [ui.hub.at(start)], set(), []
    while queue and len(visited) < MAX_PAGES:
        url = queue.pop(0)
        if _shape(url) in seen:
            continue
        seen.add(_shape(url))
        status = ui.goto(url)
        assert status < 500, f"{url} answered {status}"
        visited.append(ui.page.url)
        for href in ui.page.locator("a[href]").evaluate_all("as => as.map(a => a.href)"):
            href = href.split("#")[0]
            if href.startswith(ui.hub.url) and not NOT_PAGES.search(href) \
                    and _shape(href) not in seen:
                queue.append(href)
    return visited


# Case pages as every agency sees them are checked by the withheld-panel test below.
@pytest.mark.parametrize("username", [None, "police.supervisor", "dpo", "admin"])
def test_every_reachable_page_passes_axe_and_has_no_inline_code(open_ui, username):
    ui = open_ui("pointer")
    if username:
        journeys.sign_in(ui, username)
    visited = crawl(ui, "/" if username else "/sign-in")
    assert len(visited) >= (2 if username else 1), visited


@pytest.mark.parametrize("username", ["police.officer", "nhs.clinician", "probation.officer",
                                      "cps.prosecutor", "advocate"])
def test_withheld_panel_lists_what_the_api_withholds(open_ui, hub, username):
    case_id = data.case_id(hub, journeys.FIRST_CASE)
    ui = open_ui("pointer")
    journeys.sign_in(ui, username)
    ui.goto(f"/cases/{case_id}")
    expected = data.withheld_via_api(hub, username, case_id)
    panel = ui.page.get_by_role("region", name="Withheld information")
    if expected:
        shown = panel.locator("#withheld-list li strong").all_text_contents()  # in details
        assert sorted(shown) == expected
    else:
        expect(panel).to_have_count(0)
    if username in ("nhs.clinician", "probation.officer"):  # perpetrator-facing: never
        expect(ui.page.locator("body")).not_to_contain_text("Example Road")
        expect(ui.page.locator("body")).not_to_contain_text("07700 900123")


def test_credential_pages_reached_by_forms_pass_axe(open_ui):
    """Pages the crawl cannot reach, because a form leads to them: an administrator creates
    a user and sees the temporary password once; the new user must choose a password
    (first wrongly, showing the error) and is then sent to enrol an authenticator. Every
    page on the way goes through axe and the inline-code check."""
    import secrets

    username = f"axe.{secrets.token_hex(4)}"  # the browser hub's database outlives a test
    ui = open_ui("pointer")
    journeys.sign_in(ui, "admin")
    ui.goto("/admin/users/new")
    ui.follow(ui.page.get_by_role("button", name="Create user"))  # empty: the error page
    expect(ui.page.locator(".govuk-error-summary")).to_be_visible()
    ui.fill("Username", username)
    ui.fill("Full name", "Axe Checker")
    ui.select("Agency and role", "nhs:clinician")
    ui.follow(ui.page.get_by_role("button", name="Create user"))
    temporary = ui.page.locator("#temporary-password").inner_text().strip()
    assert len(temporary) == 24
    ui.follow(ui.page.get_by_role("button", name="Sign out"))
    journeys.sign_in(ui, username, temporary)
    expect(ui.page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    ui.fill("New password", "too short")
    ui.follow(ui.page.get_by_role("button", name="Save password and continue"))
    expect(ui.page.locator(".govuk-error-summary")).to_contain_text("at least 15")
    ui.fill("New password", "a quiet ferry on violet water")
    ui.follow(ui.page.get_by_role("button", name="Save password and continue"))
    expect(ui.page.get_by_role("heading", level=1)).to_have_text(
        "Set up your authenticator app")
    ui.follow(ui.page.get_by_role("button", name="Sign out"))
    expect(ui.page).to_have_url(re.compile(r"/sign-in$"))
