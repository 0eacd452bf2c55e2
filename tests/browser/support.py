"""The hub served to a real Chromium, and the checks every page must pass.

Shared by the browser tests (tests/browser/conftest.py) and `make screenshots`
(tests/browser/screenshots.py), so both drive exactly the same setup: a freshly migrated
SQLite hub with the demo data, CSRF on, served by werkzeug on a free loopback port.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from flask import Flask
from playwright.sync_api import Browser, BrowserContext, ConsoleMessage, Page, Playwright
from werkzeug.serving import make_server

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run",
                 "--disable-quic"]
VIEWPORT = {"width": 1280, "height": 800}
DEMO_PASSWORD = "demo-password-2026"
AXE_TAGS = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22a", "wcag22aa"]


@dataclass
class Hub:
    """A running hub: the Flask app (for setting up data) and its address."""

    app: Flask
    url: str

    def at(self, path: str) -> str:
        return f"{self.url}{path}"


@contextmanager
def serve_hub(instance: Path) -> Iterator[Hub]:
    """Migrate a fresh SQLite hub, seed the demo data and serve it until the block ends."""
    from hub.extensions import db
    from hub.seed import seed_demo
    from tests.support.apps import build_app

    app = build_app("sqlite", instance, None, WTF_CSRF_ENABLED=True)
    with app.app_context():
        seed_demo()
    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, name="hub-server", daemon=True)
    thread.start()
    try:
        yield Hub(app, f"http://127.0.0.1:{server.server_port}")
    finally:
        server.shutdown()
        thread.join(timeout=10)
        server.server_close()
        with app.app_context():
            db.engine.dispose()


def launch_chromium(playwright: Playwright) -> Browser:
    """Debian's Chromium: Playwright's own browser download is not available here."""
    return playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)


# -- what every page must pass -------------------------------------------------------------
@dataclass
class Console:
    """Console messages of one browser context, to catch CSP violations and script errors."""

    messages: list[str] = field(default_factory=list)

    def listen(self, context: BrowserContext) -> None:
        context.on("console", self._on_console)
        context.on("weberror", lambda error: self.messages.append(f"pageerror: {error.error}"))

    def _on_console(self, message: ConsoleMessage) -> None:
        if message.type in ("error", "warning"):
            self.messages.append(f"{message.type}: {message.text}")

    def csp_violations(self) -> list[str]:
        return [m for m in self.messages if "Content Security Policy" in m or "Refused to" in m]


# Inline code that `script-src 'self'; style-src 'self'` refuses: style attributes, <style>
# elements, scripts without src, event-handler attributes and javascript: URLs. Read from the
# live DOM, so anything a script added after loading counts too.
INSPECT = """() => {
  const found = [];
  const inline = [["style attribute", "[style]"], ["style element", "style"],
                  ["inline script", "script:not([src])"],
                  ["javascript: URL", "[href^='javascript:' i], [action^='javascript:' i]"]];
  for (const [what, selector] of inline) {
    for (const e of document.querySelectorAll(selector)) {
      found.push(what + ": " + e.outerHTML.slice(0, 120));
    }
  }
  const classes = new Set();
  for (const e of document.querySelectorAll("*")) {
    for (const a of e.attributes) {
      if (/^on/i.test(a.name)) found.push("event handler: " + a.name + " on <" + e.localName + ">");
    }
    e.classList.forEach(c => classes.add(c));
  }
  return {found, classes: [...classes].sort().join(" ")};
}"""


def inspect_page(page: Page) -> tuple[list[str], str]:
    """(inline code found, the page's shape: the CSS classes it uses)."""
    result = page.evaluate(INSPECT)
    return result["found"], result["classes"]


def axe_violations(page: Page) -> list[str]:
    """axe-core against WCAG 2.0, 2.1 and 2.2, levels A and AA: one line per failing node."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS},
                                       "resultTypes": ["violations"]})
    return [f"{v['id']} ({v['impact']}): {v['help']} at {node['target']}"
            for v in results.response["violations"] for node in v["nodes"]]


class NoScriptAxe:
    """axe-core for pages in a browser whose JavaScript is off.

    axe cannot run there (its promises never settle without timers), so the page's DOM is
    copied into a second page that has JavaScript on, at the same origin so the same
    stylesheets apply, with the hub's own script replaced by nothing: axe then sees exactly
    what a person without JavaScript gets.
    """

    SNAPSHOT = "/__browser-test-snapshot__"

    def __init__(self, browser: Browser, base_url: str):
        self.browser, self.base_url = browser, base_url
        self.context: BrowserContext | None = None  # opened on first use: most pages are
        self.html = ""                               # already checked with JavaScript on

    def _open(self) -> Page:
        self.context = self.browser.new_context(viewport=VIEWPORT, base_url=self.base_url)
        self.context.route("**/static/hub.js", lambda route: route.fulfill(
            body="", content_type="text/javascript"))
        self.context.route(f"**{self.SNAPSHOT}", lambda route: route.fulfill(
            body=self.html, content_type="text/html; charset=utf-8"))
        return self.context.new_page()

    def violations(self, page: Page) -> list[str]:
        self.html = page.content()
        snapshot = self.context.pages[0] if self.context else self._open()
        snapshot.goto(self.SNAPSHOT)
        return axe_violations(snapshot)

    def close(self) -> None:
        if self.context is not None:
            self.context.close()


# Pages already run through axe in this process, by shape: the same template in the same
# state (same title and address pattern, numbers aside, and same components) is checked
# once, not per test: "Alert 7" is checked as "Alert N", like /dpo/alerts/N.
# The shape leaves out the two classes GOV.UK Frontend's script adds to <body>, which are
# the only difference between a page's DOM with JavaScript on and off: a page first met in
# a browser without JavaScript is checked there (through NoScriptAxe) all the same.
_axe_checked: set[tuple] = set()
JS_ONLY_CLASSES = {"js-enabled", "govuk-frontend-supported"}


def _shape(page: Page, classes: str) -> tuple:
    path = re.sub(r"\d+", "N", page.url.split("://", 1)[1].split("/", 1)[1].split("?")[0])
    query = sorted(re.findall(r"[?&]([^=&]+)=", page.url))
    components = " ".join(c for c in classes.split() if c not in JS_ONLY_CLASSES)
    return (re.sub(r"\d+", "N", page.title()), path, tuple(query), components)


def check_page(page: Page, console: Console, *, axe: bool = True,
               noscript: NoScriptAxe | None = None) -> None:
    """The page is accessible and carries no inline code, and the browser refused nothing."""
    problems, classes = inspect_page(page)
    problems += console.csp_violations()
    shape = _shape(page, classes)
    if axe and shape not in _axe_checked:
        problems += noscript.violations(page) if noscript else axe_violations(page)
        _axe_checked.add(shape)
    assert not problems, f"{page.url}:\n" + "\n".join(problems)


# -- axe's "incomplete" results, reviewed -----------------------------------------------------
def axe_review(page: Page) -> tuple[list[str], list[dict]]:
    """axe-core's violations (one line per failing node) and its incomplete results: the
    checks it could not decide alone (each with its rule id, impact, nodes and why)."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page, options={"runOnly": {"type": "tag", "values": AXE_TAGS},
                                       "resultTypes": ["violations", "incomplete"]})
    violations = [f"{v['id']} ({v['impact']}): {v['help']} at {node['target']}"
                  for v in results.response["violations"] for node in v["nodes"]]
    incomplete = [{"id": r["id"], "impact": node.get("impact") or r["impact"],
                   "target": node["target"], "html": node["html"][:200],
                   "why": "; ".join(c["message"] for c in node["any"] + node["all"]
                                    + node["none"])}
                  for r in results.response["incomplete"] for node in r["nodes"]]
    return violations, incomplete
