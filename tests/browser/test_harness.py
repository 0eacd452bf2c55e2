"""The page checks themselves: each must fail on the problem it exists to catch, or a green
browser run would mean nothing."""

from __future__ import annotations

import pytest

from tests.browser import support

CSP = "default-src 'self'; script-src 'self'; style-src 'self'"
BAD_PAGE = """<!DOCTYPE html><html><head><title>Probe ({mode})</title></head><body>
<main><img src="/missing.png"><p style="color: #777">grey on white</p>
<button onclick="go()"></button><script>window.x = 1</script></main></body></html>"""


@pytest.fixture(params=["pointer", "nojs"])
def probe(request, open_ui):
    """A page served at the hub's origin, with the hub's policy, and every fault we check."""
    ui = open_ui(request.param)
    ui.page.route("**/__probe__", lambda route: route.fulfill(
        body=BAD_PAGE.replace("{mode}", ui.mode), content_type="text/html",
        headers={"Content-Security-Policy": CSP}))
    ui.page.goto("/__probe__")
    return ui


def test_inline_code_is_found(probe):
    found, _classes = support.inspect_page(probe.page)
    kinds = {line.split(":")[0] for line in found}
    assert kinds == {"style attribute", "inline script", "event handler"}


def test_refused_inline_code_shows_as_csp_violations(probe):
    probe.page.wait_for_load_state("load")
    refused = probe.console.csp_violations()
    assert any("inline style" in m for m in refused), probe.console.messages
    if probe.mode == "pointer":  # without JavaScript the script is never run, so never refused
        assert any("inline script" in m for m in refused), probe.console.messages


def test_axe_reports_wcag_failures(probe):
    found = probe.noscript.violations(probe.page) if probe.noscript \
        else support.axe_violations(probe.page)
    rules = {line.split(" ")[0] for line in found}
    assert {"image-alt", "button-name", "html-has-lang"} <= rules


def test_check_page_fails_on_the_probe(probe):
    with pytest.raises(AssertionError, match="image-alt"):
        support.check_page(probe.page, probe.console, noscript=probe.noscript)
