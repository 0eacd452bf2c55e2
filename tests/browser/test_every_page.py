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
        shown = panel.locator("#withheld-list li strong").all_inner_texts()
        assert sorted(shown) == expected
    else:
        expect(panel).to_have_count(0)
    if username in ("nhs.clinician", "probation.officer"):  # perpetrator-facing: never
        expect(ui.page.locator("body")).not_to_contain_text("Example Road")
        expect(ui.page.locator("body")).not_to_contain_text("07700 900123")
