"""The note page in a real Chromium, three ways (pointer, keyboard alone, JavaScript off),
every page checked with axe-core: an advocate on the demo case with two victims picks what
she is recording and whom it is about, is told that a victim's address would reach NHS,
probation and CPS, and narrows the note to police and advocacy instead (issue 10)."""

from __future__ import annotations

from playwright.sync_api import expect
from sqlalchemy import select

from hub.cases.models import Case
from hub.extensions import db
from hub.seed import CASES
from tests.browser import journeys

TWO_VICTIMS = CASES[2]["summary"]


def _case_id(hub) -> int:
    with hub.app.app_context():
        return db.session.scalar(select(Case.id).where(Case.summary == TWO_VICTIMS))


def test_advocate_narrows_a_note_holding_a_victims_address(ui, hub):
    page, case_id = ui.page, _case_id(hub)
    journeys.sign_in(ui, "advocate")
    ui.goto(f"/cases/{case_id}/notes/new")
    expect(page.locator("#perpetrator-facing")).to_contain_text(
        "NHS and Probation work with the perpetrator")
    ui.choose("Case details: note")
    ui.choose("Helen Fictitious")
    body = f"Helen asked that letters go to 2 Demo Close only ({ui.mode})."
    ui.fill("Note", body)
    ui.follow(page.get_by_role("button", name="Add note"))
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("NHS, Probation and CPS would see it")
    expect(page.locator("#body-error")).to_contain_text("The note contains a victim's address")
    expect(page.get_by_label("Helen Fictitious", exact=True)).to_be_checked()
    expect(page.get_by_label("Note", exact=True)).to_have_value(body)
    ui.tick("Police")
    ui.tick("Advocacy service")
    ui.follow(page.get_by_role("button", name="Add note"))
    expect(page.get_by_role("status")).to_contain_text("Note added.")
    expect(page.locator(".hub-entry", has_text=body)).to_have_count(1)
