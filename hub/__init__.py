"""The STAC Hub: a multi-agency stalking case hub with agency-scoped access and a
tamper-evident audit log."""

from __future__ import annotations

import logging
import secrets
from pathlib import Path

from flask import Flask, g, request

from hub import config as hub_config
from hub.crypto import Keyring
from hub.extensions import csrf, db, limiter, login_manager, migrate
from hub.policy import load_policy

ROOT = Path(__file__).resolve().parent.parent


def create_app(overrides: dict | None = None) -> Flask:
    """Load config, initialise extensions, load the policy, register blueprints and CLI."""
    app = Flask(__name__, template_folder=str(ROOT / "templates"),
                instance_path=str(ROOT / "instance"))
    app.config.update(hub_config.load(overrides))
    logging.basicConfig(level=logging.INFO)

    db.init_app(app)
    migrate.init_app(app, db, directory=str(ROOT / "migrations"))
    login_manager.init_app(app)
    csrf.init_app(app)
    limiter.init_app(app)
    app.extensions["hub.keyring"] = Keyring(app.config["HUB_DATA_KEY"])
    app.extensions["hub.policy"] = load_policy(app.config["HUB_POLICY_DIR"])

    from hub import models  # noqa: F401  -- every table, for Alembic and relationships
    from hub.api import bp as api_bp
    from hub.web import register as register_web

    app.register_blueprint(api_bp)
    csrf.exempt(api_bp)  # bearer tokens, not cookies: no CSRF exposure
    register_web(app)
    app.before_request(_request_id)
    app.after_request(_security_headers)

    from hub.cli import register as register_cli

    register_cli(app)
    return app


def _request_id() -> None:
    supplied = request.headers.get("X-Request-Id", "")
    g.request_id = supplied if supplied.isalnum() and len(supplied) <= 64 \
        else secrets.token_hex(16)


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
    from flask import current_app

    if current_app.config["HUB_ENV"] == "production":
        headers.setdefault("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
    return response
