"""Issue 14 in a real Chromium, three ways (pointer, keyboard alone, JavaScript off), every
page checked with axe-core: a National Stalking Helpline referral from intake, through
screening and the "already known?" answer, to an accepted case; then the officer records
an S-DASH with the victim, and sees the level but not her answers."""

from __future__ import annotations

import re

from playwright.sync_api import expect

from tests.browser import journeys

SDASH_YES = ("Is the victim very frightened?", "Has the suspect threatened physical or "
             "sexual violence?", "Has the suspect followed the victim or loitered near her "
             "home or work?", "Is there previous domestic abuse or harassment history?",
             "Has the suspect turned up unannounced more than three times a week?")


def test_a_helpline_referral_to_an_assessed_case(ui, hub):
    page = ui.page
    journeys.sign_in(ui, "coordinator")
    ui.follow(page.get_by_role("button", name="Make a referral"))
    ui.choose("National Stalking Helpline")
    ui.fill("Name of the person referring (optional)", f"Helpline caseworker ({ui.mode})")
    ui.fill("Full name", f"Walk Victim {ui.mode}")
    ui.follow(page.get_by_role("button", name="Send referral"))
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_contain_text("Select whether she agreed to the referral")
    expect(summary).to_contain_text("Enter the perpetrator's name, or at least one online")
    ui.choose(page.locator("#consent_to_referral"))  # Yes, the first of each pair
    ui.choose(page.locator("#consent_to_contact"))
    ui.fill("Safe ways to contact her (optional)", "Text first; no voicemail")
    ui.fill("Full name (if known)", f"Walk Perpetrator {ui.mode}")
    ui.fill("PNC ID (optional)", "2004/0112233X")  # case 1's perpetrator, by another name
    ui.fill("Online accounts or identifiers (optional)", f"@walk_{ui.mode}")
    ui.choose("Stranger")
    ui.tick("Following")
    ui.follow(page.get_by_role("button", name="Send referral"))
    done = page.locator(".govuk-notification-banner--success")
    expect(done).to_contain_text("waiting for screening")
    case_path = re.sub(r"#.*$", "", page.url.removeprefix(hub.url))

    ui.follow(page.get_by_role("link", name="Referrals to screen"))
    row = page.locator("tr", has_text=f"Walk Perpetrator {ui.mode}")
    ui.follow(row.get_by_role("link", name=re.compile("^Screen")))
    known = page.locator("#matches tr", has_text=journeys.FIRST_CASE)
    expect(known).to_contain_text("(open)")
    expect(known).to_contain_text("Perpetrator: PNC ID")
    expect(page.locator("#matches")).not_to_contain_text("Fenwick")
    ui.choose("Decline")
    ui.follow(page.get_by_role("button", name="Record decision"))
    expect(page.locator(".govuk-error-summary")).to_contain_text("Give the reason")
    ui.choose("Accept: open the case for the STAC")
    ui.follow(page.get_by_role("button", name="Record decision"))
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text("Referral accepted")
    expect(page.locator("#referral-decision")).to_contain_text("Accepted on")
    ui.fill("Add a named user (username)", "police.officer")
    ui.follow(page.get_by_role("button", name="Add to team"))

    journeys.sign_in(ui, "police.officer")
    ui.goto(case_path)
    ui.follow(page.get_by_role("button", name="Start a risk assessment"))
    ui.choose("S-DASH (stalking and harassment)")
    ui.follow(page.get_by_role("button", name="Continue"))
    for question in SDASH_YES:
        _answer(ui, question, "Yes")
    ui.follow(page.get_by_role("button", name="Save assessment"))
    expect(page.locator(".govuk-error-summary")).to_contain_text(
        "Answer question 7: Has the suspect harassed anyone else")
    for question in ("Has the suspect vandalised or destroyed property?",
                     "Has the suspect harassed anyone else since this began (family, friends, "
                     "neighbours, colleagues)?",
                     "Has the suspect acted violently to anyone else during the stalking?",
                     "Has the suspect got others to help, knowingly or not?",
                     "Has the suspect had problems in the past year with drugs, alcohol or "
                     "mental health?", "Is the suspect abusive to family, partners, pets or "
                                       "others?"):
        _answer(ui, question, "No")
    ui.fill("Reassess by (optional)", "01/03/2099")
    ui.follow(page.get_by_role("button", name="Save assessment"))
    expect(page.locator(".govuk-notification-banner--success")).to_contain_text(
        "The case's risk level is high")
    timeline = page.locator("#risk-timeline")
    expect(timeline).to_contain_text("Score 5. The answers suggested high")
    expect(timeline).to_contain_text("Reassess by 1 March 2099")
    expect(timeline).to_contain_text("The answers are withheld: victim support")
    expect(page.locator("#summary-risk")).to_contain_text("High")


def _answer(ui, question: str, said: str) -> None:
    group = ui.page.get_by_role("group", name=re.compile(re.escape(question)))
    ui.choose(group.get_by_label(said, exact=True))
