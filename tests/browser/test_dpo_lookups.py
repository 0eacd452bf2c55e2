"""The DPO's look-ups in a real Chromium: "who looked at Claire's record this week" answered
from the landing page by typing her name, in three page loads, with a pointer, with the
keyboard alone and with JavaScript off; every page on the way passes axe (``Ui`` checks
each page it arrives at)."""

from __future__ import annotations

import re
from datetime import UTC, datetime

from playwright.sync_api import expect
from sqlalchemy import select

from hub.accounts import operations as accounts
from hub.accounts.models import User
from hub.extensions import db
from hub.web.formatting import uk_date
from tests.browser import data, journeys

CLAIRE = "Claire Example-Holt"  # the first demo case's victim (hub/seed.py)


def reads_case(hub, username: str, reference: str) -> None:
    """``username`` opens the case through the JSON API: an access to its people's records."""
    case_id = data.case_id(hub, reference)
    with hub.app.test_request_context():
        user = db.session.scalar(select(User).where(User.username == username))
        token, _ttl = accounts.issue_token(user)
    response = hub.app.test_client().get(f"/api/v1/cases/{case_id}",
                                         headers={"Authorization": f"Bearer {token}"})
    assert response.status_code == 200, response.get_data(as_text=True)


def test_dpo_answers_who_looked_at_claires_record_this_week(ui, hub):
    reads_case(hub, "advocate", journeys.FIRST_CASE)
    page = ui.page
    journeys.sign_in(ui, "dpo")
    expect(page.get_by_role("heading", level=1)).to_have_text("Data protection dashboard")
    loads = [page.url]  # 1: the landing page, where signing in leaves the DPO
    page.on("load", lambda loaded: loads.append(loaded.url))

    ui.fill("Find a person", CLAIRE)
    ui.follow(page.get_by_role("button", name="Find person"))  # 2: one match: her history
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Who has seen {CLAIRE}'s record")
    expect(page.locator("#parts")).to_contain_text(f"Victim on case {journeys.FIRST_CASE}")
    ui.follow(page.get_by_role("link", name="This week", exact=True))  # 3: this week only

    assert len(loads) == 3, loads
    assert re.search(r"/audit/people/\d+\?since=\d{2}/\d{2}/\d{4}$", loads[-1]), loads
    expect(page.get_by_label("Date from", exact=True)).to_have_value(
        re.compile(r"^\d{2}/\d{2}/\d{4}$"))
    looked = page.locator("#history tbody tr", has_text="Robin Castell").first
    for shown in ("Advocacy service", "advocate", "case:read", uk_date(datetime.now(UTC)),
                  "Victim's address and contact details", "Case team member"):
        expect(looked).to_contain_text(shown)
    headers = page.locator("#history thead th").all_inner_texts()
    assert headers == ["When", "Who", "Agency", "Role", "Action", "Case", "What they saw",
                       "Why"], headers
    main = page.locator("main")
    expect(main).not_to_contain_text("12 Example Road")  # her address is case content
    expect(main).not_to_contain_text("07700 900123")


def test_dpo_chooses_among_people_and_finds_a_case_by_reference(open_ui, hub):
    ui = open_ui("pointer")
    page = ui.page
    journeys.sign_in(ui, "dpo")
    ui.follow(page.get_by_role("button", name="Find person"))  # nothing typed
    expect(page).to_have_title(re.compile(r"^Error: Find a person\b"))
    expect(page.locator(".govuk-error-summary")).to_contain_text("Enter a name to search for")
    ui.fill("Find a person", "Fictitious")
    ui.follow(page.get_by_role("button", name="Find person"))
    people = page.locator("#people tbody tr")
    expect(people).to_have_count(2)
    expect(people.first).to_contain_text("Victim")
    ui.follow(page.get_by_role("link", name=re.compile("^Ruth Fictitious")))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        "Who has seen Ruth Fictitious's record")

    ui.follow(page.get_by_role("navigation", name="Menu").get_by_role("link", name="DPO console"))
    ui.fill("Find a case", journeys.FIRST_CASE.lower())
    ui.follow(page.get_by_role("button", name="Find case"))
    expect(page.get_by_role("heading", level=1)).to_have_text(
        f"Who has seen case {journeys.FIRST_CASE}")
    who = page.locator("#history tbody td:nth-child(2) a").first  # e.g. the referrer
    name = who.inner_text()
    ui.follow(who)
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Activity of {name}")
