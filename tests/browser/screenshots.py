"""`make screenshots`: photograph each journey's key pages into docs/screenshots/.

Runs the same journeys as the browser tests (tests/browser/journeys.py), against the same
server setup, with a pointer in Chromium at 1280 pixels wide; every page is still checked on
the way (axe-core, no inline code, nothing refused by the CSP).

    .venv/bin/python -m tests.browser.screenshots [output folder]
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from playwright.sync_api import sync_playwright

from hub.accounts.security import totp_now
from tests.browser import data, journeys, support
from tests.browser.journeys import Ui

ROOT = Path(__file__).resolve().parents[2]


def take(out: Path) -> list[Path]:
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as instance, support.serve_hub(Path(instance)) as hub, \
            sync_playwright() as playwright:
        browser = support.launch_chromium(playwright)

        def run(journey, *args) -> None:
            ui = Ui.open(browser, hub, "pointer", shots=out)
            try:
                journey(ui, *args)
            finally:
                ui.close()

        run(journeys.police_officer_views_shared_case)
        run(journeys.clinician_adds_notes, "screenshot")
        case_id, reference = data.new_case(hub)
        reason = "Victim unreachable after a reported sighting; risk to life"
        run(journeys.supervisor_breaks_glass, case_id, reference, reason)

        def dpo(ui: Ui) -> None:
            journeys.dpo_reviews_break_glass_alert(ui, journeys.dpo_audits_access(ui, reason),
                                                   reason)

        run(dpo)
        run(journeys.officer_creates_case, "screenshot")
        run(everyday_pages)
        username, seed = data.make_user(hub)
        run(journeys.sign_in_with_code, username, data.PASSWORD, lambda: totp_now(seed))
        username, _none = data.make_user(hub, totp=False)
        run(journeys.enrol_authenticator, username, data.PASSWORD, totp_now)
        browser.close()
    return sorted(out.glob("*.png"))


def everyday_pages(ui: Ui) -> None:
    """The pages people reach every day that no journey above photographs."""
    first = 1  # the demo's first case: seeded first
    journeys.sign_in(ui, "police.officer")
    ui.goto(f"/cases/{first}/team", "7-team")
    ui.goto(f"/cases/{first}/notes/new", "7-add-note")
    ui.context.clear_cookies()
    journeys.sign_in(ui, "police.supervisor")
    ui.goto("/cases/?q=STAC-HAM-2026-00099", "7-break-glass-offer")
    ui.context.clear_cookies()
    journeys.sign_in(ui, "dpo")
    ui.goto("/dpo/", "8-dpo-landing")
    ui.goto("/dpo/people?name=Claire", "8-dpo-person-history")
    ui.context.clear_cookies()
    journeys.sign_in(ui, "admin")
    ui.goto("/admin/agencies", "9-admin-agencies")


def main() -> None:
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else ROOT / "docs" / "screenshots"
    for path in take(out):
        print(f"{path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}"
              f"  {path.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
