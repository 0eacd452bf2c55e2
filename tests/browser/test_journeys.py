"""The hub in a real Chromium: every journey with a pointer, with the keyboard alone and with
JavaScript off, and every page it passes checked with axe-core (WCAG 2.2 AA), for inline
code and for anything the Content Security Policy refused."""

from __future__ import annotations

import time

from playwright.sync_api import expect

from hub.accounts.security import totp_now
from tests.browser import data, journeys


def test_police_officer_searches_and_views_a_shared_case(ui):
    journeys.police_officer_views_shared_case(ui)


def test_clinician_adds_an_intervention_note_and_a_clinical_summary(ui):
    journeys.clinician_adds_notes(ui, tag=ui.mode)


def test_dpo_finds_break_glass_in_the_audit_log_and_reviews_its_alert(ui, hub):
    case_id, _reference = data.new_case(hub)
    reason = f"Urgent welfare check on the victim ({ui.mode} run)"
    data.break_glass(hub, case_id, "police.supervisor", reason)
    found = journeys.dpo_audits_access(ui, reason)
    assert found == str(case_id), (found, case_id)
    journeys.dpo_reviews_break_glass_alert(ui, found, reason)


def test_dpo_pages_through_the_audit_log(open_ui):
    ui = open_ui("pointer")
    journeys.sign_in(ui, "dpo")
    journeys.dpo_pages_through_the_log(ui)


def test_wrong_password_shows_an_error_summary(ui):
    journeys.sign_in_wrongly(ui)


def test_sign_in_with_an_authenticator_code(ui, hub):
    username, seed = data.make_user(hub)
    journeys.sign_in_with_code(ui, username, data.PASSWORD, lambda: totp_now(seed))


def test_first_sign_in_enrols_an_authenticator_app(ui, hub):
    username, _none = data.make_user(hub, totp=False)
    journeys.enrol_authenticator(ui, username, data.PASSWORD, totp_now)


def test_supervisor_breaks_glass_on_a_case_they_are_not_on(ui, hub):
    case_id, reference = data.new_case(hub)
    journeys.supervisor_breaks_glass(ui, case_id, reference,
                                     f"Victim unreachable; risk to life ({ui.mode} run)")


def test_officer_creates_a_case_and_adds_a_team_member(ui):
    journeys.officer_creates_case(ui, tag=ui.mode)


def test_idle_session_ends_and_the_next_page_asks_to_sign_in(open_ui, hub):
    ui = open_ui("pointer")
    journeys.sign_in(ui, "police.officer")
    expect(ui.page.get_by_role("heading", level=1)).to_have_text("Your cases")
    idle = hub.app.config["HUB_SESSION_IDLE"]
    hub.app.config["HUB_SESSION_IDLE"] = 1  # shortened only now, so signing in cannot race it
    try:
        time.sleep(1.5)
        ui.goto(f"/cases/{data.case_id(hub, journeys.FIRST_CASE)}")
    finally:
        hub.app.config["HUB_SESSION_IDLE"] = idle
    assert "/sign-in" in ui.page.url
    expect(ui.page.get_by_role("heading", level=1)).to_have_text("Sign in to the STAC Hub")
    expect(ui.page.locator("main")).not_to_contain_text("Marcus Fenwick-Example")
    ui.goto("/cases/")  # the session stays ended with the normal timeout back in force
    assert "/sign-in" in ui.page.url
