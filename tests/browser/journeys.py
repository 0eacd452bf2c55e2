"""The journeys people take through the hub, written once and driven three ways.

``Ui`` drives a page as a person would: with a pointer, with the keyboard alone (Tab to
reach a control, Enter to follow or submit, Space to tick; radio groups and selects change
with the arrow keys, as they do for every keyboard user), or with a pointer in a browser
whose JavaScript is off. After every page it arrives at it checks the page (axe-core, no
inline code, no refused content) and, for ``make screenshots``, can photograph it.
"""

from __future__ import annotations

import base64
import re
from pathlib import Path

from playwright.sync_api import Browser, BrowserContext, Locator, Page, expect

from hub.web.formatting import class_label
from tests.browser.support import (
    DEMO_PASSWORD,
    VIEWPORT,
    Console,
    Hub,
    NoScriptAxe,
    check_page,
)

MODES = ("pointer", "keyboard", "nojs")
MAX_TABS = 120


class Ui:
    def __init__(self, context: BrowserContext, hub: Hub, mode: str, shots: Path | None,
                 noscript: NoScriptAxe | None = None):
        self.context, self.hub, self.mode, self.shots = context, hub, mode, shots
        self.noscript = noscript
        self.console = Console()
        self.console.listen(context)
        self.page: Page = context.new_page()

    @classmethod
    def open(cls, browser: Browser, hub: Hub, mode: str = "pointer",
             shots: Path | None = None) -> Ui:
        assert mode in MODES, mode
        context = browser.new_context(java_script_enabled=mode != "nojs", viewport=VIEWPORT,
                                      base_url=hub.url, locale="en-GB", timezone_id="UTC")
        context.set_default_timeout(10_000)
        noscript = NoScriptAxe(browser, hub.url) if mode == "nojs" else None
        return cls(context, hub, mode, shots, noscript)

    def close(self) -> None:
        self.context.close()
        if self.noscript is not None:
            self.noscript.close()

    # -- arriving at pages --------------------------------------------------------------------
    def goto(self, path: str, shot: str | None = None) -> int:
        """Type an address into the browser (keyboard users can do that too)."""
        response = self.page.goto(path)
        self.arrived(shot)
        return response.status

    def arrived(self, shot: str | None = None) -> None:
        self.page.wait_for_load_state("load")
        check_page(self.page, self.console, noscript=self.noscript)
        if self.shots is not None and shot:
            self.page.screenshot(path=self.shots / f"{shot}.png", full_page=True)

    # -- acting on controls -------------------------------------------------------------------
    def follow(self, target: Locator, shot: str | None = None) -> None:
        """Follow a link or press a submit button, and check the page it leads to."""
        if self.mode == "keyboard":
            self._tab_to(target)
            with self.page.expect_navigation():
                self.page.keyboard.press("Enter")
        else:
            with self.page.expect_navigation():
                target.click()
        self.arrived(shot)

    def fill(self, label: str, text: str) -> None:
        field = self.page.get_by_label(label, exact=True)
        if self.mode == "keyboard":
            self._tab_to(field)
            self.page.keyboard.type(text)
        else:
            field.fill(text)
        expect(field).to_have_value(text)

    def tick(self, label: str) -> None:
        box = self.page.get_by_label(label, exact=True)
        if self.mode == "keyboard":
            self._tab_to(box)
            self.page.keyboard.press("Space")
        else:
            box.check()
        expect(box).to_be_checked()

    def choose(self, label: str | Locator) -> None:
        """Pick a radio button (by its label, or a locator where labels repeat, as the
        Yes and No of a questionnaire): Tab into its group, then arrow keys to it."""
        radio = label if isinstance(label, Locator) else self.page.get_by_label(label,
                                                                                exact=True)
        if self.mode == "keyboard":
            name = radio.get_attribute("name")
            in_group = f"e => e.type === 'radio' && e.name === {name!r}"
            if not self.page.evaluate(f"({in_group})(document.activeElement)"):
                self._tab_until(in_group, repr(radio))
            for _ in range(20):
                if radio.is_checked():
                    break
                on_it = radio.evaluate("e => e === document.activeElement")
                self.page.keyboard.press("Space" if on_it else "ArrowDown")
        else:
            radio.check()
        expect(radio).to_be_checked()

    def select(self, label: str, value: str) -> None:
        """Pick an option: Tab to the list, then arrow keys until it shows the option."""
        field = self.page.get_by_label(label, exact=True)
        if self.mode == "keyboard":
            self._tab_to(field)
            options = field.locator("option").evaluate_all("os => os.map(o => o.value)")
            key = "ArrowDown" if options.index(value) > options.index(field.input_value()) \
                else "ArrowUp"
            for _ in range(len(options)):
                if field.input_value() == value:
                    break
                self.page.keyboard.press(key)
        else:
            field.select_option(value)
        expect(field).to_have_value(value)

    def jump(self, link: Locator) -> None:
        """Follow a link within the page (an error summary's, say): no new page to check."""
        if self.mode == "keyboard":
            self._tab_to(link)
            self.page.keyboard.press("Enter")
        else:
            link.click()

    def _tab_to(self, target: Locator) -> None:
        handle = target.element_handle()
        self._tab_until(lambda: handle.evaluate("e => e === document.activeElement"), repr(target))

    def _tab_until(self, focused, what: str) -> None:
        test = focused if callable(focused) else (
            lambda: self.page.evaluate(f"({focused})(document.activeElement)"))
        for _ in range(MAX_TABS):
            self.page.keyboard.press("Tab")
            if test():
                return
        raise AssertionError(f"{what} cannot be reached with the Tab key on {self.page.url}")


# -- the journeys ----------------------------------------------------------------------------
FIRST_CASE = "STAC-LON-2026-00001"


def sign_in(ui: Ui, username: str, password: str = DEMO_PASSWORD, shot: str | None = None,
            then: str | None = None) -> None:
    """Sign in from the sign-in page; ``then`` names the screenshot of the page after it."""
    ui.goto("/sign-in", shot)
    ui.fill("Username", username)
    ui.fill("Password", password)
    ui.follow(ui.page.get_by_role("button", name="Continue"), then)


def sign_in_wrongly(ui: Ui, shot: str | None = None) -> None:
    ui.goto("/sign-in")
    ui.fill("Username", "police.officer")
    ui.fill("Password", "not the password")
    ui.follow(ui.page.get_by_role("button", name="Continue"), shot)
    expect(ui.page).to_have_title(re.compile(r"^Error: Sign in\b"))
    expect(ui.page.locator(".govuk-error-summary")).to_contain_text(
        "The username or password is not right")


def police_officer_views_shared_case(ui: Ui) -> None:
    """Journey 1: sign in, search, open a shared case and see what is withheld."""
    page = ui.page
    sign_in(ui, "police.officer", shot="1-police-sign-in")
    expect(page.get_by_role("heading", level=1)).to_have_text("Your cases")
    ui.fill("Search by reference or name", "Fenwick")
    ui.follow(page.get_by_role("button", name="Search"), shot="1-police-search")
    expect(page.get_by_text("1 case matching your search")).to_be_visible()
    ui.follow(page.get_by_role("link", name=FIRST_CASE), shot="1-police-case")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {FIRST_CASE}")
    withheld = page.get_by_role("region", name="Withheld information")
    expect(withheld).to_contain_text("clinical")
    expect(withheld).to_contain_text("legal")
    expect(page.locator("#perpetrator")).to_contain_text("Marcus Fenwick-Example")
    expect(page.locator("main")).to_contain_text("Flat 3, 12 Example Road")  # police may
    expect(page.locator("main")).to_contain_text("Risk-relevant summary")  # clinical.summary
    expect(page.locator("main")).not_to_contain_text("Session 3")  # clinical
    expect(page.locator("main")).not_to_contain_text("Privileged advice")  # legal


def clinician_adds_notes(ui: Ui, tag: str) -> None:
    """Journey 2: a clinician adds an intervention note (clinical) and a clinical summary."""
    page = ui.page
    sign_in(ui, "nhs.clinician")
    ui.follow(page.get_by_role("link", name=FIRST_CASE), shot="2-clinician-case")
    main = page.locator("main")
    expect(main).not_to_contain_text("Flat 3, 12 Example Road")  # never victim.location
    expect(page.get_by_role("region", name="Withheld information")).to_contain_text(
        "victim.location")
    notes = [("clinical", "Clinical notes: intervention",
              f"Session 4 ({tag}): fixation easing; CBT continues."),
             ("clinical.summary", "Clinical summary: note",
              f"Summary ({tag}): engaging; risk unchanged.")]
    for info_class, choice, body in notes:
        ui.follow(page.get_by_role("button", name="Add a note"), shot="2-clinician-add-note")
        expect(page.get_by_role("heading", level=1)).to_have_text("Add a note")
        ui.choose(choice)  # a kind and a class, in the words the page uses
        ui.fill("Note", body)
        ui.follow(page.get_by_role("button", name="Add note"), shot="2-clinician-note-added")
        expect(page.get_by_role("status")).to_contain_text("Note added.")
        entry = page.locator(".hub-entry", has_text=body)
        expect(entry).to_have_count(1)
        expect(entry.locator(".govuk-tag").first).to_have_text(class_label(info_class))


def dpo_audits_access(ui: Ui, reason: str) -> str:
    """Journey 3: the DPO filters the audit log and finds a break-glass access; returns the
    id of the case it was on, as the log shows it."""
    page = ui.page
    sign_in(ui, "dpo")
    ui.follow(page.get_by_role("navigation", name="Menu").get_by_role("link", name="Audit log"),
              shot="3-dpo-audit-log")
    ui.fill("User", "police.supervisor")
    ui.tick("Break-glass access only")
    ui.follow(page.get_by_role("button", name="Apply filters"), shot="3-dpo-break-glass")
    rows = page.locator(".hub-audit-table tbody tr")
    expect(rows.first).to_be_visible()
    expect(page.locator(".hub-audit-table")).to_contain_text(f"Reason: {reason}")
    for who in rows.locator("td:nth-child(3)").all_inner_texts():
        assert who.startswith("police.supervisor"), who
    expect(rows.first.get_by_text("break-glass", exact=True)).to_be_visible()
    case = rows.filter(has_text=reason).first.locator("td:nth-child(5) a")
    case_id = case.inner_text()
    ui.follow(case, shot="3-dpo-case-history")
    expect(page.get_by_role("heading", level=1)).to_contain_text(
        f"case {reference_of(ui, case_id)}")
    ui.follow(page.get_by_role("link", name="full list"))
    expect(page.get_by_label("Case id", exact=True)).to_have_value(case_id)
    expect(page.locator(".hub-audit-table")).to_contain_text(f"Reason: {reason}")
    for cell in page.locator(".hub-audit-table tbody td:nth-child(5)").all_inner_texts():
        assert cell == case_id, cell
    return case_id


def dpo_reviews_break_glass_alert(ui: Ui, case_id: str, reason: str) -> None:
    """Journey 3, continued: from the console the DPO opens the alert the break-glass raised,
    is told to choose an outcome, then closes it as justified with a note."""
    page = ui.page
    ui.follow(page.get_by_role("navigation", name="Menu").get_by_role("link", name="DPO console"),
              shot="3-dpo-dashboard")
    expect(page.get_by_role("heading", level=1)).to_have_text("Data protection dashboard")
    expect(page.get_by_role("img", name=re.compile("^Break-glass accesses per month"))) \
        .to_be_visible()
    ui.follow(page.locator("#open-alerts").get_by_role("link"), shot="3-dpo-alerts")
    expect(page.get_by_role("heading", level=1)).to_have_text("Alerts")
    title = f"Break-glass access to case {reference_of(ui, case_id)} by Sgt Jo Marlow"
    row = page.locator(".hub-audit-table tbody tr", has_text=title)
    expect(row).to_have_count(1)
    expect(row).to_contain_text("open")
    alert_id = row.locator("td").first.inner_text()
    ui.follow(row.get_by_role("link", name=alert_id, exact=True), shot="3-dpo-alert")
    expect(page.get_by_role("heading", level=1)).to_contain_text(title)
    events = page.locator("#alert-events tbody tr")
    expect(events).to_have_count(1)
    expect(events).to_contain_text("break-glass")
    expect(events).to_contain_text(f"Reason: {reason}")
    expect(events.locator("td:nth-child(5)")).to_have_text(reference_of(ui, case_id))

    with page.expect_response(lambda r: r.request.method == "POST") as posted:
        ui.follow(page.get_by_role("button", name="Close alert"),
                  shot="3-dpo-alert-no-outcome")
    assert posted.value.status == 400, posted.value.status
    expect(page).to_have_title(re.compile(r"^Error: Alert\b"))
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_visible()
    expect(summary.locator("a[href='#outcome']")).to_be_visible()
    expect(page.locator("#outcome-error")).to_be_visible()
    expect(page.get_by_role("group", name="Outcome of your review")).to_have_attribute(
        "aria-describedby", "outcome-error")
    if ui.mode != "nojs":  # GOV.UK Frontend moves focus to the field the link names
        ui.jump(summary.locator("a[href='#outcome']"))
        expect(page.get_by_label("justified", exact=True)).to_be_focused()
    note = f"Supervisor's reason checked with the duty inspector ({ui.mode} run)."
    ui.choose("justified")
    ui.fill("Note", note)
    ui.follow(page.get_by_role("button", name="Close alert"), shot="3-dpo-alert-closed")
    expect(page.get_by_role("heading", level=1)).to_have_text("Alerts")
    expect(page.get_by_role("status")).to_contain_text(f"Alert {alert_id} closed as justified.")
    expect(page.locator(".hub-audit-table tbody tr", has_text=title)).to_have_count(0)
    ui.follow(page.get_by_role("link", name="Closed", exact=True))
    closed = page.locator(".hub-audit-table tbody tr", has_text=title)
    expect(closed).to_have_count(1)
    expect(closed.locator("td").last).to_have_text("closed (justified)")


def dpo_pages_through_the_log(ui: Ui) -> None:
    page = ui.page
    ui.goto("/audit/?per_page=10")
    first = page.locator(".hub-audit-table tbody tr td:first-child").first.inner_text()
    ui.follow(page.get_by_role("link", name="Next page"), shot="3-dpo-page-2")
    expect(page.get_by_role("link", name="Previous page")).to_be_visible()
    expect(page.locator(".hub-audit-table tbody tr")).to_have_count(10)
    assert int(page.locator(".hub-audit-table tbody tr td:first-child").first.inner_text()) \
        < int(first)


def sign_in_with_code(ui: Ui, username: str, password: str, code_now) -> None:
    page = ui.page
    sign_in(ui, username, password, then="4-security-code")
    expect(page.get_by_role("heading", level=1)).to_have_text("Enter your security code")
    ui.fill("Enter your security code", "12345")  # too short: never a valid code
    ui.follow(page.get_by_role("button", name="Continue"), "4-security-code-wrong")
    expect(page.locator(".govuk-error-summary")).to_contain_text("The code is not right")
    ui.fill("Enter your security code", code_now())
    ui.follow(page.get_by_role("button", name="Continue"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your cases")


def enrol_authenticator(ui: Ui, username: str, password: str, code_for) -> None:
    page = ui.page
    sign_in(ui, username, password, then="4-enrol")
    expect(page.get_by_role("heading", level=1)).to_have_text("Set up your authenticator app")
    qr = page.get_by_role("img", name="QR code for your authenticator app")
    expect(qr).to_be_visible()
    box = qr.bounding_box()
    assert box["width"] >= 150 and box["height"] >= 150, box
    secret = page.locator(".hub-secret").inner_text().strip()
    seed = base64.b32decode(secret + "=" * (-len(secret) % 8))
    ui.fill("Code from your app", code_for(seed))
    ui.follow(page.get_by_role("button", name="Continue"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Your cases")
    expect(page.get_by_role("status")).to_contain_text("Your authenticator app is set up.")


def supervisor_breaks_glass(ui: Ui, case_id: int, reference: str, reason: str) -> None:
    page = ui.page
    sign_in(ui, "police.supervisor")
    assert ui.goto(f"/cases/{case_id}") == 404  # not on the team: the case does not exist
    expect(page.locator("main")).not_to_contain_text(reference)
    assert ui.goto(f"/cases/{case_id}/break-glass", shot="5-break-glass") == 200
    open_case = page.get_by_role("button", name="Open the case")
    ui.follow(open_case, shot="5-break-glass-no-reason")
    expect(page.locator(".govuk-error-summary")).to_be_visible()
    ui.fill("Why do you need access now?", reason)
    ui.follow(page.get_by_role("button", name="Open the case"), shot="5-break-glass-case")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Case {reference}")
    banner = page.get_by_role("region", name="Emergency access")
    expect(banner).to_contain_text("break-glass access until")
    expect(page.get_by_role("status")).to_contain_text("Emergency access granted")


def officer_creates_case(ui: Ui, tag: str) -> str:
    """Create a case (after one failed try), then add a clinician to its team."""
    page = ui.page
    sign_in(ui, "police.officer")
    ui.follow(page.get_by_role("button", name="Create a case"), shot="6-create-case")
    ui.follow(page.get_by_role("button", name="Create case"), shot="6-create-case-errors")
    summary = page.locator(".govuk-error-summary")
    expect(summary).to_be_visible()
    expect(page).to_have_title(re.compile(r"^Error: Create a case\b"))
    missing = ["Enter the perpetrator's full name", "Enter the victim's full name"]
    expect(summary.get_by_role("link")).to_have_text(missing)  # every field, not the first
    expect(page.locator(".govuk-error-message")).to_have_text([f"Error: {m}" for m in missing])
    perpetrator = f"Perry Createdcase {tag}"
    ui.fill("Perpetrator's full name", perpetrator)
    ui.fill("Full name", f"Vera Createdcase {tag}")
    ui.fill("Address (shared with police and advocacy only)", "5 Test Lane, London N4 0ZZ")
    ui.select("Risk level", "high")
    ui.fill("Summary", f"Referral made in the browser ({tag}).")
    ui.follow(page.get_by_role("button", name="Create case"), shot="6-case-created")
    reference = page.get_by_role("heading", level=1).inner_text().removeprefix("Case ")
    expect(page.get_by_role("status")).to_contain_text(f"Case {reference} created.")
    expect(page.locator("#perpetrator")).to_contain_text(perpetrator)
    ui.fill("Add a named user (username)", "nhs.clinician")
    ui.follow(page.get_by_role("button", name="Add to team"), shot="6-member-added")
    expect(page.get_by_role("status")).to_contain_text("Added to the case team.")
    expect(page.locator("#team")).to_contain_text("Dr Priya Nandra (NHS)")
    return reference


def reference_of(ui: Ui, case_id: str | int) -> str:
    """A case's reference, as the DPO's pages name it (the audit log keeps its id)."""
    from sqlalchemy import select

    from hub.cases.models import Case
    from hub.extensions import db

    with ui.hub.app.app_context():
        return db.session.scalar(select(Case.reference).where(Case.id == int(case_id)))
