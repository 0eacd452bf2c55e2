"""The STAC Hub: a multi-agency stalking case hub with agency-scoped access and a
tamper-evident audit log."""

from __future__ import annotations

import logging
import secrets
import time
from pathlib import Path
from urllib.parse import urlsplit

from flask import Flask, abort, current_app, g, request
from werkzeug.exceptions import BadRequest, NotFound
from werkzeug.middleware.proxy_fix import ProxyFix
from werkzeug.routing import IntegerConverter, RequestRedirect

from hub import config as hub_config
from hub.boundary import BadInput, HubRequest, HubResponse, first_bad, request_fields
from hub.cases import risk_tools
from hub.crypto import Keyring
from hub.extensions import csrf, db, limiter, login_manager, migrate
from hub.policy import load_policy

ROOT = Path(__file__).resolve().parent.parent


class DatabaseInt(IntegerConverter):
    """``<int:...>`` limited to the ids the database can hold (1 to 2**31 - 1), written
    one way only: ASCII digits without a leading zero. Anything else is simply not found
    (404), rather than overflowing the driver (500) or reaching the same record by a second
    name (``01``, a full-width digit) that logs, caches and checks would not recognise."""

    regex = r"[1-9][0-9]{0,9}"

    def __init__(self, url_map, *args, **kwargs):
        kwargs.setdefault("min", 1)
        kwargs.setdefault("max", 2**31 - 1)
        super().__init__(url_map, *args, **kwargs)


def create_app(overrides: dict | None = None) -> Flask:
    """Load config, initialise extensions, load the policy, register blueprints and CLI."""
    app = Flask(__name__, template_folder=str(ROOT / "templates"),
                instance_path=str(ROOT / "instance"))
    app.request_class, app.response_class = HubRequest, HubResponse  # hub/boundary.py
    app.config.update(hub_config.load(overrides))
    app.url_map.converters["int"] = DatabaseInt  # before any route is added
    app.before_request(_fresh_globals)  # first: before anything looks at who is asking
    logging.basicConfig(level=logging.INFO)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    app.extensions["hub.keyring"] = Keyring(app.config["HUB_DATA_KEY"])
    app.extensions["hub.policy"] = load_policy(app.config["HUB_POLICY_DIR"])
    app.extensions["hub.risk_tools"] = risk_tools.load(
        Path(app.config["HUB_POLICY_DIR"]) / "tools", app.extensions["hub.policy"])

    from hub import models  # noqa: F401  -- every table, for Alembic and relationships
    from hub.admin import api as _admin_api  # noqa: F401  -- its routes join the API blueprint
    from hub.admin.views import bp as admin_bp
    from hub.api import bp as api_bp
    from hub.oidc.views import bp as oidc_bp
    from hub.web import register as register_web

    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # bearer tokens, not cookies: no CSRF exposure
    register_web(app)
    app.register_blueprint(oidc_bp)
    app.register_blueprint(admin_bp)
    if app.config["HUB_PROXY_HOPS"]:  # trust X-Forwarded-* only from our own proxies
        hops = app.config["HUB_PROXY_HOPS"]
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=hops, x_proto=hops, x_host=hops)
    _refuse_unsafe_production(app)
    app.before_request(_request_id)
    app.before_request(_refuse_bad_text)
    app.before_request(_relative_redirects)
    app.register_error_handler(BadInput, _bad_input)
    app.after_request(_retry_after)
    app.after_request(_security_headers)
    app.after_request(_log_refusal)
    from hub.disclosure import refuse_unrecorded

    app.after_request(refuse_unrecorded)  # registered last, so it runs first

    from hub.cli import register as register_cli

    register_cli(app)
    from hub import dpo
    from hub.auditlog import sequencer

    dpo.connect()  # the console hears of batches and grants through hub.signals
    sequencer.init_app(app)  # integrates audit events on a schedule, if configured
    return app


def _fresh_globals() -> None:
    """Every request starts knowing nobody. Flask reuses an app context that is already
    pushed (a CLI command, a test), and with it ``g``: a signed-in user cached there by one
    request must not be inherited by the next."""
    g.__dict__.clear()


def _refuse_unsafe_production(app: Flask) -> None:
    """Production never runs in debug mode nor with the demo accounts in its database.

    Debug is known at start-up. Demo users are a fact about the database, which may not be
    migrated yet when the app is built (``hub db upgrade`` builds it too), so every request
    is refused (503) until a check finds none; once clean, the process stops asking.
    """
    if app.config["HUB_ENV"] != "production":
        return
    if app.debug:
        raise hub_config.ConfigError("debug mode cannot be on in production (FLASK_DEBUG)")
    clean = []

    @app.before_request
    def _no_demo_users():
        if clean:
            return None
        from sqlalchemy import select

        from hub.accounts.models import User

        if db.session.scalar(select(User.id).where(User.is_demo.is_(True)).limit(1)):
            logging.getLogger(__name__).error(
                "demo users are present in a production database: refusing every request")
            abort(503)
        clean.append(True)
        return None


def _refuse_bad_text() -> None:
    """Path, query and form text that PostgreSQL or UTF-8 cannot hold (NUL, unpaired
    surrogates) is bad input (400): caught here once, rather than as a database or encoding
    error (500) wherever it lands. JSON bodies are checked as they are parsed."""
    found = first_bad(request_fields(request))
    if found:
        field, reason = found
        raise BadInput(f"{field}: {reason}", field)


def _bad_input(exc: BadInput):
    """Refused input on any path, including one no route matches (no blueprint to ask)."""
    if request.path.startswith("/api/"):
        from hub.api import error

        return error(400, "invalid", exc.message, exc.field)
    from hub.web import page_error

    return page_error(BadRequest(exc.message))


def _relative_redirects():
    """werkzeug redirects ``/cases//1`` and ``/cases`` to their canonical path with an
    absolute URL built from the request's Host header, which an attacker chooses. Send
    the path alone instead; the browser keeps the host it used."""
    redirect = request.routing_exception
    if not isinstance(redirect, RequestRedirect):
        return None
    target = urlsplit(redirect.new_url)
    location = target.path + (f"?{target.query}" if target.query else "")
    if not location.startswith("/") or location.startswith(("//", "/\\")):
        raise NotFound()  # never a protocol-relative URL pointing elsewhere
    return current_app.response_class(status=redirect.code, headers={"Location": location})


# Retry-After for a 429 that does not say (the per-username sign-in lock answers from its
# view): its pauses start at 30 seconds and grow, so a minute is a fair first wait.
RETRY_AFTER_DEFAULT = 60


def _retry_after(response):
    if response.status_code == 429 and "Retry-After" not in response.headers:
        response.headers["Retry-After"] = str(retry_after_seconds())
    return response


def retry_after_seconds() -> int:
    """Seconds until the rate limit that refused this request lets it through again."""
    current = limiter.current_limit
    if current is None or not current.breached or not current.reset_at:
        return RETRY_AFTER_DEFAULT
    return max(1, int(current.reset_at - time.time()) + 1)


def _request_id() -> None:
    supplied = request.headers.get("X-Request-Id", "")
    g.request_id = supplied if supplied.isalnum() and len(supplied) <= 64 \
        else secrets.token_hex(16)


# Refusals worth a line in the application log (ASVS 16.3.3): bad or forged input (CSRF
# included), missing or bad credentials, forbidden actions, oversized bodies, throttling.
# Case refusals are audit events too; these lines are for whoever runs the hub. The query
# string is left out: it can hold a searched-for name.
LOGGED_REFUSALS = {400, 401, 403, 413, 429}
security_log = logging.getLogger("hub.security")


def _log_refusal(response):
    if response.status_code in LOGGED_REFUSALS:
        user = g.get("user") or g.get("pending_user")
        security_log.warning("refused %s %s %s request_id=%s address=%s user_id=%s",
                             response.status_code, request.method, request.path,
                             g.get("request_id", "-"), request.remote_addr,
                             user.id if user else "-")
    return response


def _security_headers(response):
    headers = response.headers
    headers.setdefault("Content-Security-Policy",
                       "default-src 'self'; script-src 'self'; style-src 'self'; "
                       "img-src 'self' data:; font-src 'self'; object-src 'none'; "
                       "base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
    headers.setdefault("X-Content-Type-Options", "nosniff")
    headers.setdefault("Referrer-Policy", "no-referrer")
    headers.setdefault("X-Frame-Options", "DENY")
    headers.setdefault("Cross-Origin-Opener-Policy", "same-origin")
    headers.setdefault("Permissions-Policy", "camera=(), microphone=(), geolocation=()")
    if not request.path.startswith("/static/"):
        headers["Cache-Control"] = "no-store"
    if response.mimetype == "application/json":
        headers.setdefault("X-Request-Id", g.get("request_id", ""))
    if current_app.config["HUB_ENV"] == "production":
        headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    return response
