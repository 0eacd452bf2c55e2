"""Browser fixtures: one hub served over HTTP for the session, one Chromium, a fresh browser
context per test.

The hub runs on SQLite with CSRF on, exactly as a person's browser meets it. Tests that need
data of their own (a case nobody else is on, a user with an authenticator app) create it
through the hub's own operations, in the app, while the server is running.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from playwright.sync_api import sync_playwright

from tests.browser import support
from tests.browser.journeys import MODES, Ui

HERE = Path(__file__).resolve().parent


def pytest_collection_modifyitems(items):
    for item in items:
        if HERE in Path(item.fspath).resolve().parents:
            item.add_marker(pytest.mark.browser)


@pytest.fixture(scope="session")
def hub(tmp_path_factory):
    with support.serve_hub(tmp_path_factory.mktemp("browser-hub")) as running:
        yield running


@pytest.fixture(scope="session")
def browser():
    with sync_playwright() as playwright:
        chromium = support.launch_chromium(playwright)
        yield chromium
        chromium.close()


@pytest.fixture
def open_ui(hub, browser):
    """``open_ui("keyboard")``: a fresh browser context (no cookies) driven in that mode."""
    opened = []

    def open_(mode: str = "pointer") -> Ui:
        ui = Ui.open(browser, hub, mode)
        opened.append(ui)
        return ui

    yield open_
    for ui in opened:
        ui.close()


@pytest.fixture(params=MODES)
def ui(request, open_ui) -> Ui:
    """Each journey runs three ways: pointer, keyboard alone, and with JavaScript off."""
    return open_ui(request.param)
