"""Hardening that holds for every route: CSRF, no state change on GET, security headers,
no caching of signed-in pages, cookie flags, throttling, and production's refusals."""

from __future__ import annotations

import logging
import re

import pytest
from flask_migrate import upgrade
from sqlalchemy import select
from werkzeug.routing import IntegerConverter

from hub import create_app
from hub.accounts.security import DEMO_PASSWORD
from hub.config import ConfigError
from hub.extensions import db
from tests.support.apps import ROOT, build_app
from tests.support.factories import sign_in

TEMPLATES = ROOT / "templates"


def get_rules(app):
    """Every GET route with placeholder arguments, except static files."""
    for rule in app.url_map.iter_rules():
        if "GET" in rule.methods and not rule.endpoint.endswith("static"):
            args = {a: 1 if isinstance(rule._converters[a], IntegerConverter) else "x"
                    for a in rule.arguments}
            yield rule, _build(app, rule, args)


def _build(app, rule, args):
    with app.test_request_context():
        from flask import url_for

        return url_for(rule.endpoint, **args)


# -- CSRF ------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def csrf_app(request, tmp_path_factory):
    from hub.seed import seed_demo

    app = build_app("sqlite", tmp_path_factory.mktemp("csrf"), request, WTF_CSRF_ENABLED=True)
    with app.app_context():
        seed_demo()
    return app


def test_every_form_post_without_the_token_is_refused(csrf_app):
    client = csrf_app.test_client()
    posts = [r for r in csrf_app.url_map.iter_rules()
             if "POST" in r.methods and not r.endpoint.startswith("api.")]
    assert len(posts) >= 10
    for rule in posts:
        path = _build(csrf_app, rule, dict.fromkeys(rule.arguments, 1))
        r = client.post(path, data={"username": "police.officer", "password": DEMO_PASSWORD})
        assert r.status_code == 400, (rule.rule, r.status_code)
        assert "CSRF" in r.text or "Bad Request" in r.text


def test_refusals_reach_the_security_log_without_query_strings(csrf_app, caplog):
    """ASVS 16.3.3: forged CSRF, missing credentials and throttling leave a trace."""
    client = csrf_app.test_client()
    with caplog.at_level(logging.WARNING, logger="hub.security"):
        client.post("/sign-out", data={"csrf_token": "forged"})
        client.get("/api/v1/cases?q=Fenwick")
    lines = [r.getMessage() for r in caplog.records if r.name == "hub.security"]
    assert any(line.startswith("refused 400 POST /sign-out ") for line in lines), lines
    assert any(line.startswith("refused 401 GET /api/v1/cases ") for line in lines), lines
    assert all("request_id=" in line and "Fenwick" not in line for line in lines)


def test_a_post_with_the_token_gets_through(csrf_app):
    client = csrf_app.test_client()
    page = client.get("/sign-in").text
    token = re.search(r'name="csrf_token" value="([^"]+)"', page).group(1)
    sign_in(client, "police.officer", csrf_token=token)
    forged = client.post("/sign-out", data={"csrf_token": token[:-2] + "xx"})
    assert forged.status_code == 400


def test_the_api_needs_no_csrf_token_because_it_takes_no_cookies(csrf_app):
    client = csrf_app.test_client()
    sign_in(client, "police.officer", csrf_token=re.search(r'name="csrf_token" value="([^"]+)"',
                                         client.get("/sign-in").text).group(1))
    r = client.get("/api/v1/cases")  # the browser session cookie is not an API credential
    assert r.status_code == 401


# -- no state change on GET -------------------------------------------------------------------
# GETs that change state by protocol or by design, each with its reason:
GET_WRITES = {
    "oidc.callback": "OpenID Connect returns by GET; its single-use state is the CSRF guard",
    "accounts.enrol": "shows a new, unconfirmed TOTP seed; nothing is trusted until a POST",
}
IGNORED_TABLES = {"audit_events", "audit_subjects", "user_sessions", "login_throttle"}


def snapshot(session) -> dict:
    tables = [t for t in db.metadata.sorted_tables if t.name not in IGNORED_TABLES]
    return {t.name: sorted(map(repr, session.execute(select(t)).all())) for t in tables}


@pytest.mark.parametrize("username", ["police.officer", "admin", "dpo"])
def test_no_get_changes_state(app, client, session, username):
    sign_in(client, username)
    before = snapshot(session)
    for rule, path in get_rules(app):
        if rule.endpoint in GET_WRITES:
            continue
        r = client.get(path)
        assert r.status_code < 500, (path, r.status_code)
        assert snapshot(session) == before, f"GET {path} changed the database"


# -- headers ----------------------------------------------------------------------------------
def check_headers(r, path):
    h = r.headers
    csp = h["Content-Security-Policy"]
    assert "frame-ancestors 'none'" in csp and "script-src 'self'" in csp, path
    assert "unsafe-inline" not in csp and "unsafe-eval" not in csp, path
    assert h["X-Content-Type-Options"] == "nosniff", path
    assert h["Referrer-Policy"] == "no-referrer", path
    assert h["X-Frame-Options"] == "DENY", path


def test_security_headers_on_every_response(app, client, session):
    sign_in(client, "admin")
    paths = [p for _r, p in get_rules(app)] + ["/nowhere", "/api/v1/nowhere",
                                                "/static/hub.css", "/api/v1/openapi.json"]
    for path in paths:
        r = client.get(path)
        check_headers(r, path)
        r.close()  # static files are streamed from an open file
    check_headers(client.post("/api/v1/auth/token", json={}), "token")


def test_signed_in_pages_are_never_cached(app, client, session):
    sign_in(client, "police.officer")
    for path in ["/cases/", "/api/v1/cases", "/sign-in"]:
        assert client.get(path).headers["Cache-Control"] == "no-store", path


def test_templates_hold_no_inline_script_or_handlers():
    for template in TEMPLATES.rglob("*.html"):
        text = template.read_text()
        assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", text), template
        assert not re.search(r"\son[a-z]+\s*=", text), template
        assert "javascript:" not in text, template


# -- production -------------------------------------------------------------------------------
def test_production_cookies_and_hsts(production_overrides):
    app = create_app(production_overrides)
    with app.app_context():
        upgrade()
    client = app.test_client()
    r = client.get("/sign-in", base_url="https://hub.example")
    assert r.headers["Strict-Transport-Security"].startswith("max-age=63072000")
    cookie = r.headers["Set-Cookie"]
    assert cookie.startswith("__Host-hub=")
    for flag in ("Secure", "HttpOnly", "SameSite=Lax", "Path=/"):
        assert flag in cookie, cookie
    assert "Domain" not in cookie
    with app.app_context():
        db.engine.dispose()


def test_hsts_only_in_production(client, session):
    assert "Strict-Transport-Security" not in client.get("/sign-in").headers


@pytest.mark.parametrize(("change", "message"), [
    ({"SECRET_KEY": "short"}, "at least 32"),
    ({"SECRET_KEY": "changeme-changeme-changeme-changeme"}, "default"),
    ({"SECRET_KEY": "a" * 64}, "default"),
    ({"HUB_DEMO": True}, "HUB_DEMO"),
    ({"DEBUG": True}, "debug"),
    ({"RATELIMIT_STORAGE_URI": "memory://"}, "shared"),
])
def test_production_refuses_to_start(production_overrides, change, message):
    with pytest.raises(ConfigError, match=message):
        create_app({**production_overrides, **change})


def test_production_refuses_flask_debug(production_overrides, monkeypatch):
    monkeypatch.setenv("FLASK_DEBUG", "1")
    with pytest.raises(ConfigError, match="debug"):
        create_app(production_overrides)


def test_production_refuses_requests_while_demo_users_exist(production_overrides):
    from hub.accounts.models import User
    from hub.seed import seed_demo

    seeding = create_app({**production_overrides, "HUB_ENV": "test", "HUB_DEMO": True})
    with seeding.app_context():
        upgrade()
        seed_demo()
        db.engine.dispose()
    app = create_app(production_overrides)
    client = app.test_client()
    assert client.get("/sign-in", base_url="https://hub.example").status_code == 503
    assert client.get("/api/v1/openapi.json", base_url="https://hub.example").status_code == 503
    with app.app_context():
        db.session.execute(User.__table__.update().values(is_demo=False))
        db.session.commit()
    assert client.get("/sign-in", base_url="https://hub.example").status_code == 200
    with app.app_context():
        db.engine.dispose()


# -- throttling -------------------------------------------------------------------------------
@pytest.fixture
def limited_app(request, tmp_path):
    return build_app("sqlite", tmp_path, request, RATELIMIT_ENABLED=True)


@pytest.mark.parametrize(("path", "body"), [
    ("/api/v1/auth/token", "json"), ("/sign-in", "data"), ("/sign-in/sso/none", "data")])
def test_sign_in_and_token_issue_are_throttled_per_address(limited_app, path, body):
    """Twenty tries a minute from one address, whatever usernames it tries (the per-username
    lockout in hub.accounts is a second, separate limit)."""
    client = limited_app.test_client()

    def attempt(i):
        return client.post(path, **{body: {"username": f"user{i}", "password": "wrong"}})
    statuses = [attempt(i).status_code for i in range(21)]
    assert 429 not in statuses[:20] and statuses[20] == 429, statuses
    if path.startswith("/api/"):
        assert attempt(99).json["error"]["code"] == "too_many_requests"


def test_every_id_in_a_path_is_described_as_a_database_integer(client, session):
    """The OpenAPI description must match the DatabaseInt converter, or fuzzing (and any
    client generated from it) sends ids the hub reads differently from the description."""
    spec = client.get("/api/v1/openapi.json").json
    ids = [p for ops in spec["paths"].values() for op in ops.values()
           for p in op.get("parameters", []) if p.get("in") == "path"
           and (p["name"].endswith("_id") or p["name"] == "seq")]
    assert len(ids) >= 15
    assert all(p["schema"] == {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
               for p in ids), [p for p in ids if p["schema"].get("type") != "integer"]
    for path in ("/api/v1/audit/cases/0/history", f"/api/v1/audit/cases/{'0' * 65}/history"):
        assert client.get(path).status_code == 404
