"""A new agency works the moment it is created, in a real Chromium: an administrator adds an
area and an NHS-kind agency on the admin pages (first leaving the form empty, to see the
errors), creates a user in that agency; a police officer adds the agency to a case on the
case team page; and the new user, at their first sign-in (a new password, then an
authenticator app), sees the case exactly as the policy lets the NHS kind see it: the
perpetrator, but never the victim's address. Every page passes axe-core and carries no
inline code; the journey runs with a pointer, the keyboard alone and JavaScript off."""

from __future__ import annotations

import base64
import re

from playwright.sync_api import expect
from sqlalchemy import select

from hub.accounts.models import User
from hub.accounts.security import totp_now
from hub.cases.models import Case
from hub.extensions import db
from hub.policy import Principal, Relationship
from tests.browser import data, journeys

NEW_PASSWORD = "a tidy heron above the estuary"
VICTIM_ADDRESS = "1 Test Row, London E2 0ZZ"  # data.new_case's victim


def test_an_administrator_adds_an_agency_whose_staff_see_what_their_kind_sees(ui, hub):
    tag = ui.mode
    agency = {"code": f"nhs-north-{tag}", "name": f"North London NHS ({tag})"}
    username = f"north.clinician.{tag}"
    case_id, reference = data.new_case(hub, summary=f"New agency journey ({tag}).")

    journeys.sign_in(ui, "admin")
    admin_adds_an_area(ui, f"north-{tag}", f"North ({tag})")
    admin_adds_an_agency(ui, agency)
    temporary = admin_creates_a_user(ui, agency, username)
    sign_out(ui)

    journeys.sign_in(ui, "police.officer")
    officer_adds_the_agency_to_the_team(ui, case_id, agency)
    sign_out(ui)

    first_sign_in(ui, username, temporary)
    expect(ui.page.locator("main")).to_contain_text(reference)
    ui.follow(ui.page.get_by_role("link", name=reference))
    the_case_as_the_nhs_kind_sees_it(ui, hub, username, case_id, reference)


# -- the administrator ---------------------------------------------------------------------
def admin_adds_an_area(ui, code: str, name: str) -> None:
    page = ui.page
    ui.goto("/admin/")
    ui.follow(page.get_by_role("navigation", name="Administration").get_by_role(
        "link", name="Areas"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Areas")
    ui.follow(page.get_by_role("button", name="Add an area"))
    ui.follow(page.get_by_role("button", name="Add area"))  # nothing filled in
    expect(page).to_have_title(re.compile(r"^Error: Add an area\b"))
    summary = page.locator(".govuk-error-summary")
    expect(summary.get_by_role("link")).to_have_text([
        "Enter a code of lower-case letters, digits and hyphens, like north-wales",
        "Enter the area's name"])
    ui.fill("Code", code)
    ui.fill("Name", name)
    ui.follow(page.get_by_role("button", name="Add area"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Areas")
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        f"{name} has been added.")
    row = page.locator(f"#area-{code}")
    expect(row).to_contain_text(name)
    expect(row).to_contain_text("No area policy")  # until policies/areas/<code>.yaml exists


def admin_adds_an_agency(ui, agency: dict) -> None:
    page = ui.page
    ui.follow(page.get_by_role("navigation", name="Administration").get_by_role(
        "link", name="Agencies"))
    ui.follow(page.get_by_role("button", name="Add an agency"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Add an agency")
    ui.follow(page.get_by_role("button", name="Add agency"))  # nothing filled in
    expect(page.locator(".govuk-error-summary").get_by_role("link")).to_have_text([
        "Enter a code of lower-case letters, digits and hyphens, like met-police-north",
        "Enter the agency's name", "Select the kind of agency"])
    ui.fill("Code", agency["code"])
    ui.fill("Name", agency["name"])
    ui.choose("NHS")
    ui.select("Area it serves", "london")
    ui.follow(page.get_by_role("button", name="Add agency"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Agencies")
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        f"{agency['name']} has been added.")
    row = page.locator(f"#agency-{agency['code']}")
    for text in ("NHS", "London", "Active"):
        expect(row).to_contain_text(text)


def admin_creates_a_user(ui, agency: dict, username: str) -> str:
    """The admin's new-user page; returns the temporary password it shows once."""
    page = ui.page
    ui.follow(page.get_by_role("navigation", name="Administration").get_by_role(
        "link", name="Users"))
    ui.follow(page.get_by_role("button", name="Create a local user"))
    ui.fill("Username", username)
    ui.fill("Full name", f"Dr North {ui.mode}")
    ui.select("Agency and role", f"{agency['code']}:clinician")
    ui.follow(page.get_by_role("button", name="Create user"))
    temporary = page.locator("#temporary-password").inner_text().strip()
    assert len(temporary) == 24
    return temporary


def sign_out(ui) -> None:
    ui.follow(ui.page.get_by_role("button", name="Sign out"))
    expect(ui.page).to_have_url(re.compile(r"/sign-in$"))


# -- the police officer on the case ----------------------------------------------------------
def officer_adds_the_agency_to_the_team(ui, case_id: int, agency: dict) -> None:
    page = ui.page
    ui.goto(f"/cases/{case_id}")
    ui.follow(page.get_by_role("link", name=re.compile("^Change the team")))
    expect(page.get_by_role("heading", level=1)).to_have_text("Change the team")
    ui.select("Agency", agency["code"])
    ui.follow(page.get_by_role("button", name="Add the agency"))
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        f"{agency['name']} is added to the case team.")
    expect(page.locator("#team-members")).to_contain_text(f"All of {agency['name']}")


# -- the new user ----------------------------------------------------------------------------
def first_sign_in(ui, username: str, temporary: str) -> None:
    """A temporary password: choose a password, then set up an authenticator app."""
    page = ui.page
    journeys.sign_in(ui, username, temporary)
    expect(page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    ui.fill("New password", NEW_PASSWORD)
    ui.follow(page.get_by_role("button", name="Save password and continue"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your authenticator app")
    secret = page.locator(".hub-secret").inner_text().strip()
    ui.fill("Code from your app", totp_now(base64.b32decode(secret + "=" * (-len(secret) % 8))))
    ui.follow(page.get_by_role("button", name="Continue"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your cases")


def the_case_as_the_nhs_kind_sees_it(ui, hub, username: str, case_id: int,
                                     reference: str) -> None:
    page, main = ui.page, ui.page.locator("main")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {reference}")
    expect(page.locator("#perpetrator")).to_contain_text("Perry Browsertest")
    expect(main).to_contain_text("Vera Browsertest")  # NHS reads victim.identity...
    expect(page.locator("body")).not_to_contain_text(VICTIM_ADDRESS)  # ...never location
    expected = policy_withholds_from_nhs(hub, case_id, username)
    assert "victim.location" in expected
    shown = page.get_by_role("region", name="Withheld information").locator(
        "#withheld-list li strong").all_text_contents()
    assert sorted(shown) == expected == data.withheld_via_api(hub, username, case_id)


def policy_withholds_from_nhs(hub, case_id: int, username: str) -> list[str]:
    """What the policy withholds from an NHS clinician on the team of this case: the
    clinician's kind is all it looks at, whichever NHS agency they are in."""
    with hub.app.app_context():
        user = db.session.scalar(select(User).where(User.username == username))
        case = db.session.get(Case, case_id)
        principal = Principal.of(user)
        assert principal.agency == "nhs" and user.agency.code.startswith("nhs-north-")
        decision = hub.app.extensions["hub.policy"].case_decision(
            principal, case.area.code, Relationship.MEMBER, case.status)
        return sorted(decision.withheld)
