"""Every page of the hub, listed from its url_map, answers 200 to a user who may see it and
passes axe-core (no violations; every "incomplete" result reviewed) and the inline-code
check; and the withheld-information panel says exactly what the JSON API says is withheld.

A page is a GET route that is not the JSON API (its blueprint), not a file (a route taking
a ``filename``: static files and GOV.UK assets), not a redirect (the route table in
tests/security/test_routes.py names a redirect as its success) and that answers HTML (the health
check, the favicon and CSV exports do not). Who visits each is the route table's intended
user, except the three steps of signing in, which need a browser part-way through it.
"""

from __future__ import annotations

import re

import pytest
from flask import url_for
from playwright.sync_api import expect
from sqlalchemy import select

from tests.browser import data, journeys
from tests.browser.support import axe_review, inspect_page
from tests.security.test_routes import ROUTES, intended_user

# Steps of signing in that only a browser part-way through it reaches (a real user: demo
# users skip the code and never have a temporary password).
SIGN_IN_STEPS = {"accounts.mfa": "awaiting a code", "accounts.enrol": "enrolling",
                 "accounts.choose_password": "with a temporary password"}
ANONYMOUS = "anonymous"

# What a node of an SVG chart is drawn in, and on: its fill, and the background of the
# nearest element behind it that has one (the page's white if none does).
_SVG_TEXT_COLOURS = """(selector) => {
  const e = document.querySelector(selector);
  if (!(e instanceof SVGTextElement)) return null;
  let n = e.parentElement, bg = "rgb(255, 255, 255)";
  for (; n; n = n.parentElement) {
    const c = getComputedStyle(n).backgroundColor;
    if (c !== "rgba(0, 0, 0, 0)" && c !== "transparent") { bg = c; break; }
  }
  return {fill: getComputedStyle(e).fill, background: bg};
}"""


def _luminance(colour: str) -> float | None:
    """WCAG's relative luminance of an opaque ``rgb(r, g, b)``; None for anything else."""
    found = re.fullmatch(r"rgb\((\d+), (\d+), (\d+)\)", colour)
    if not found:
        return None
    linear = [c / 255 / 12.92 if c / 255 <= 0.03928 else ((c / 255 + 0.055) / 1.055) ** 2.4
              for c in map(int, found.groups())]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def svg_text_contrast_holds(page, target: list[str]) -> bool:
    """axe cannot tell what lies behind SVG text (the dashboard's chart labels), so it asks
    for a review: here the test measures it, the text's fill against the background behind
    the chart, and asks WCAG's 4.5:1 for text of normal size (the labels are 11px)."""
    found = page.evaluate(_SVG_TEXT_COLOURS, target[0]) if len(target) == 1 else None
    if not found:
        return False
    fore, back = _luminance(found["fill"]), _luminance(found["background"])
    if fore is None or back is None:
        return False
    light, dark = max(fore, back), min(fore, back)
    return (light + 0.05) / (dark + 0.05) >= 4.5


# axe's incomplete results ("needs review") that the test reviews itself: rule id -> the
# check each node must pass. Any other incomplete result fails, whatever its impact (the
# serious and critical ones first among them); today the chart labels are the only ones.
REVIEWED = {"color-contrast": svg_text_contrast_holds}


def visitor(endpoint: str) -> str:
    """Who loads the page: the route table's intended user, or a sign-in step."""
    if endpoint in SIGN_IN_STEPS:
        return SIGN_IN_STEPS[endpoint]
    return intended_user(endpoint, ROUTES[(endpoint, "GET")]) or ANONYMOUS


def _may_be_page(endpoint: str) -> bool:
    """GET routes of the table that are neither the API nor a redirect."""
    return not endpoint.startswith("api.") and ROUTES[(endpoint, "GET")].ok == 200


VISITORS = sorted({visitor(e) for e, m in ROUTES if m == "GET" and _may_be_page(e)})


def page_rules(app, who: str | None = None) -> list:
    """GET routes that may be pages, from the url_map (files are routes with a filename)."""
    rules = [r for r in app.url_map.iter_rules() if "GET" in r.methods
             and "filename" not in r.arguments and _may_be_page(r.endpoint)]
    return sorted((r for r in rules if who is None or visitor(r.endpoint) == who),
                  key=lambda r: r.rule)


@pytest.fixture(scope="module")
def url_values(hub) -> dict:
    """A real value for every URL argument: the first demo case, its victim, a place on
    its team, the clinician, an alert (from a break-glass), an identity provider."""
    from hub.accounts.models import Agency, Area, User
    from hub.cases.models import Case, Membership, Referral
    from hub.dpo.models import Alert
    from hub.extensions import db

    case_id = data.case_id(hub, journeys.FIRST_CASE)
    data.break_glass(hub, case_id, "police.supervisor", "Axe check of the alert page")
    provider_id = _identity_provider(hub)
    with hub.app.app_context():
        nhs = db.session.scalar(select(User).where(User.username == "nhs.clinician"))
        return {
            "case_id": case_id, "username": nhs.username, "user_id": nhs.id,
            "person_id": db.session.get(Case, case_id).people("victim")[0].id,
            "membership_id": db.session.scalar(select(Membership.id).where(
                Membership.case_id == case_id, Membership.user_id == nhs.id)),
            "alert_id": db.session.scalar(select(Alert.id).order_by(Alert.id.desc())),
            "provider_id": provider_id,
            "area_id": db.session.scalar(select(Area.id).where(Area.code == "london")),
            "agency_id": db.session.scalar(select(Agency.id).where(Agency.code == "nhs")),
            "referral_id": db.session.scalar(select(Referral.id).join(
                Case, Case.id == Referral.case_id).where(Case.status == "referred")
                .order_by(Referral.id))}


def _identity_provider(hub) -> int:
    """An identity provider to show (the browser hub's database outlives a test)."""
    from hub.accounts.models import Agency
    from hub.extensions import db
    from hub.oidc import operations
    from hub.oidc.models import IdentityProvider

    with hub.app.app_context():
        row = db.session.scalar(select(IdentityProvider).where(
            IdentityProvider.slug == "axe-check"))
        if row is None:
            row = IdentityProvider(
                slug="axe-check", name="Police sign-in (axe check)",
                issuer="https://sign-in.axe-check.example.org", client_id="hub",
                agency=db.session.scalar(select(Agency).where(Agency.code == "police")),
                role_claim="hub_role", role_map={"PC": "officer"}, acr_values=[],
                required_amr=["mfa"])
            operations.seal_secret(row, "a client secret")
            db.session.add(row)
            db.session.commit()
        return row.id


def _user_with_temporary_password(hub) -> tuple[str, str]:
    """A local user an administrator has just created: (username, temporary password)."""
    import secrets

    from hub.accounts.models import User
    from hub.admin import operations
    from hub.extensions import db

    with hub.app.test_request_context():
        admin = db.session.scalar(select(User).where(User.username == "admin"))
        user, password = operations.create_local_user({
            "username": f"axe.{secrets.token_hex(4)}", "display_name": "Axe Newcomer",
            "agency": "police", "role": "officer", "area": "london"}, admin)
        return user.username, password


def _path(app, rule, values: dict) -> str:
    with app.test_request_context():
        return url_for(rule.endpoint, **{name: values[name] for name in rule.arguments})


def _arrive(ui, hub, who: str) -> None:
    """Sign the browser in as ``who``, or part-way in for a sign-in step."""
    if who == ANONYMOUS:
        return
    if who == "awaiting a code":
        username, _seed = data.make_user(hub)
        journeys.sign_in(ui, username, data.PASSWORD)
    elif who == "enrolling":
        username, _seed = data.make_user(hub, totp=False)
        journeys.sign_in(ui, username, data.PASSWORD)
    elif who == "with a temporary password":
        journeys.sign_in(ui, *_user_with_temporary_password(hub))
    else:
        journeys.sign_in(ui, who)


def _check(ui, url: str) -> tuple[str, list[str]]:
    """Load one page: "page", "file" (not HTML) or "redirect", and its problems."""
    fetched = ui.context.request.get(url, max_redirects=0)
    if fetched.status != 200:
        return "error", [f"{url} answered {fetched.status}"]
    if not fetched.headers.get("content-type", "").startswith("text/html"):
        return "file", []
    response = ui.page.goto(url)
    if response.status != 200 or ui.page.url != url:
        return "error", [f"{url} answered {response.status} at {ui.page.url}"]
    found, _classes = inspect_page(ui.page)
    violations, incomplete = axe_review(ui.page)
    unreviewed = [f"incomplete {i['id']} ({i['impact']}) at {i['target']}: {i['why']}"
                  for i in incomplete
                  if not (i["id"] in REVIEWED and REVIEWED[i["id"]](ui.page, i["target"]))]
    return "page", [f"{url}: {problem}" for problem in found + violations + unreviewed]


@pytest.mark.parametrize("who", VISITORS)
def test_every_page_answers_200_and_passes_axe(open_ui, hub, url_values, who):
    """One page load per page route, as the user who may see it; axe runs on every one."""
    ui = open_ui("pointer")
    _arrive(ui, hub, who)
    seen, problems = {}, []
    for rule in page_rules(hub.app, who):
        kind, found = _check(ui, hub.at(_path(hub.app, rule, url_values)))
        seen[rule.endpoint] = kind
        problems += found
    problems += ui.console.csp_violations()
    assert not problems, "\n".join(problems)
    assert "page" in seen.values(), seen


class _Drawn:
    """A page whose SVG text is drawn in ``fill`` on ``background`` (for the review)."""

    def __init__(self, fill: str, background: str = "rgb(255, 255, 255)"):
        self.found = {"fill": fill, "background": background}

    def evaluate(self, _script, _selector):
        return self.found


def test_the_chart_label_review_fails_text_too_faint_to_read():
    target = ["#chart-agency > text"]
    assert svg_text_contrast_holds(_Drawn("rgb(0, 0, 0)"), target)
    assert svg_text_contrast_holds(_Drawn("rgb(80, 90, 95)"), target)  # GOV.UK secondary
    assert not svg_text_contrast_holds(_Drawn("rgb(150, 150, 150)"), target)
    assert not svg_text_contrast_holds(_Drawn("rgba(0, 0, 0, 0.2)"), target)
    assert not svg_text_contrast_holds(_Drawn("rgb(0, 0, 0)"), ["#frame", "text"])


def test_the_pages_include_those_a_link_crawl_never_reached(hub):
    """A person's access history and subject access bundle from the DPO's side, and an
    identity provider's page, are among the pages listed, with their visitors."""
    listed = {r.endpoint: visitor(r.endpoint) for r in page_rules(hub.app)}
    assert listed["audit.person_history"] == "dpo"
    assert listed["dpo.subject_access_page"] == "dpo"
    assert listed["admin.edit_provider"] == "admin"
    assert set(listed.values()) == set(VISITORS)
    assert not {"home", "oidc.callback", "static", "govuk_assets.static"} & set(listed)
    assert not any(e.startswith("api.") for e in listed)


@pytest.mark.parametrize("username", ["police.officer", "nhs.clinician", "probation.officer",
                                      "cps.prosecutor", "advocate"])
def test_withheld_panel_lists_what_the_api_withholds(open_ui, hub, username):
    case_id = data.case_id(hub, journeys.FIRST_CASE)
    ui = open_ui("pointer")
    journeys.sign_in(ui, username)
    ui.goto(f"/cases/{case_id}")
    expected = data.withheld_via_api(hub, username, case_id)
    panel = ui.page.get_by_role("region", name="Withheld information")
    if expected:
        shown = panel.locator("#withheld-list li strong").all_text_contents()  # in details
        assert sorted(shown) == expected
    else:
        expect(panel).to_have_count(0)
    if username in ("nhs.clinician", "probation.officer"):  # perpetrator-facing: never
        expect(ui.page.locator("body")).not_to_contain_text("Example Road")
        expect(ui.page.locator("body")).not_to_contain_text("07700 900123")


def test_credential_pages_reached_by_forms_pass_axe(open_ui):
    """Pages the crawl cannot reach, because a form leads to them: an administrator creates
    a user and sees the temporary password once; the new user must choose a password
    (first wrongly, showing the error) and is then sent to enrol an authenticator. Every
    page on the way goes through axe and the inline-code check."""
    import secrets

    username = f"axe.{secrets.token_hex(4)}"  # the browser hub's database outlives a test
    ui = open_ui("pointer")
    journeys.sign_in(ui, "admin")
    ui.goto("/admin/users/new")
    ui.follow(ui.page.get_by_role("button", name="Create user"))  # empty: the error page
    expect(ui.page.locator(".govuk-error-summary")).to_be_visible()
    ui.fill("Username", username)
    ui.fill("Full name", "Axe Checker")
    ui.select("Agency and role", "nhs:clinician")
    ui.follow(ui.page.get_by_role("button", name="Create user"))
    temporary = ui.page.locator("#temporary-password").inner_text().strip()
    assert len(temporary) == 24
    ui.follow(ui.page.get_by_role("button", name="Sign out"))
    journeys.sign_in(ui, username, temporary)
    expect(ui.page.get_by_role("heading", level=1)).to_have_text("Choose a new password")
    ui.fill("New password", "too short")
    ui.follow(ui.page.get_by_role("button", name="Save password and continue"))
    expect(ui.page.locator(".govuk-error-summary")).to_contain_text("at least 15")
    ui.fill("New password", "a quiet ferry on violet water")
    ui.follow(ui.page.get_by_role("button", name="Save password and continue"))
    expect(ui.page.get_by_role("heading", level=1)).to_have_text(
        "Set up your authenticator app")
    ui.follow(ui.page.get_by_role("button", name="Sign out"))
    expect(ui.page).to_have_url(re.compile(r"/sign-in$"))
