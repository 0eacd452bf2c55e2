"""The case page for a busy officer, in a real Chromium: changing a case's risk level and
review date on the page (first with a date that does not exist), and correcting a victim's
phone number with the old value kept. Each runs with a pointer, with the keyboard alone
and with JavaScript off; every page on the way passes axe and carries no inline code."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser import data, journeys
from tests.browser.journeys import Ui


def replace(ui: Ui, label: str, text: str) -> None:
    """Type over what a field holds, as a person would: select it all, then type."""
    field = ui.page.get_by_label(label, exact=True)
    if ui.mode == "keyboard":
        ui._tab_to(field)
        ui.page.keyboard.press("Control+A")
        ui.page.keyboard.type(text)
    else:
        field.fill(text)
    expect(field).to_have_value(text)


def open_new_case(ui: Ui, hub) -> tuple[int, str]:
    case_id, reference = data.new_case(hub, summary=f"Case page journey ({ui.mode} run).")
    journeys.sign_in(ui, "police.officer")
    ui.goto(f"/cases/{case_id}")
    expect(ui.page.get_by_role("heading", level=1)).to_have_text(f"Case {reference}")
    return case_id, reference


def test_officer_changes_risk_and_review_date_on_the_case_page(ui, hub):
    page = ui.page
    open_new_case(ui, hub)
    summary = page.locator("#case-summary")
    expect(summary.locator("#summary-risk")).to_contain_text("High")
    expect(summary.locator("#summary-review")).to_have_text("No review date set")
    expect(summary.locator("#summary-visit")).to_have_text("This is your first visit")

    ui.choose("Medium")
    ui.fill("Next review date", "31/02/2027")  # no such day
    ui.follow(page.get_by_role("button", name="Save changes"))
    expect(page).to_have_title(re.compile(r"^Error: Case "))
    errors = page.locator(".govuk-error-summary")
    expect(errors.locator("a[href='#next_review_on']")).to_have_text(
        "Enter a real date for the next review, like 24/11/2026")
    expect(page.locator("#next_review_on-error")).to_be_visible()
    expect(page.get_by_label("Medium", exact=True)).to_be_checked()  # kept what they chose

    replace(ui, "Next review date", "24/11/2027")
    ui.select("Status", "active")
    ui.follow(page.get_by_role("button", name="Save changes"))
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "Status changed from referred to active. Risk level changed from high to medium. "
        "Next review date set to 24 November 2027.")
    expect(summary.locator("#summary-risk")).to_contain_text("Medium")
    expect(summary.locator("#summary-risk")).to_contain_text("by Police")
    expect(summary.locator("#summary-status")).to_have_text("Active")
    expect(summary.locator("#summary-review")).to_have_text("24 November 2027")
    expect(page.get_by_label("Next review date", exact=True)).to_have_value("24/11/2027")


def test_officer_corrects_a_victims_phone_and_the_old_value_is_kept(ui, hub):
    page = ui.page
    open_new_case(ui, hub)
    ui.follow(page.get_by_role("link", name=re.compile(r"^Correct details of the victim")))
    expect(page.get_by_role("heading", level=1)).to_have_text("Correct the victim's details")
    expect(page.get_by_label("Address", exact=True)).to_have_value("1 Test Row, London E2 0ZZ")
    ui.fill("Phone", "07700 900777")
    ui.follow(page.get_by_role("button", name="Save corrections"))
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "The victim's phone was corrected.")
    card = page.locator(".govuk-summary-card").filter(has=page.locator("dl[id^='victim-']"))
    expect(card).to_contain_text("07700 900777")
    expect(card).to_contain_text("Changed on")
    history = card.locator("details")
    expect(history).to_contain_text("Changes to these details (1)")
    expect(history.locator("tbody tr")).to_have_count(1)
    expect(history.locator("tbody tr td").nth(3)).to_have_text("Not recorded")
