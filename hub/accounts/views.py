"""Sign-in pages: password, then a TOTP code (or enrolment for a first sign-in)."""

from __future__ import annotations

import base64
import io

import segno
from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user
from markupsafe import Markup

from hub.accounts import operations, security
from hub.extensions import db, limiter

bp = Blueprint("accounts", __name__)


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def sign_in():
    errors = {}
    if request.method == "POST":
        username = request.form.get("username", "")[:64]
        password = request.form.get("password", "")[:1024]
        if not username or not password:
            errors["username"] = "Enter your username and password"
        else:
            outcome = operations.check_credentials(username, password, channel="web")
            if outcome.throttled:
                errors["username"] = "Too many attempts. Wait a few minutes and try again"
            elif outcome.user is None:
                errors["username"] = "The username or password is not right"
            else:
                return _begin_session(outcome.user, mfa_passed=not outcome.needs_otp)
    return render_template("accounts/sign_in.html", errors=errors), 400 if errors else 200


def _begin_session(user, *, mfa_passed: bool):
    session.clear()  # a fresh session on sign-in: no fixation
    user.session_token = operations.start_session(user, mfa_passed=mfa_passed)
    login_user(user)
    if mfa_passed:
        return redirect(url_for("cases.index"))
    return redirect(url_for("accounts.mfa" if user.totp_secret_ct else "accounts.enrol"))


@bp.route("/sign-in/code", methods=["GET", "POST"])
def mfa():
    user = g.get("pending_user")
    if user is None:
        return redirect(url_for("cases.index") if g.get("user") else url_for(".sign_in"))
    if user.totp_secret_ct is None:
        return redirect(url_for(".enrol"))
    error = None
    if request.method == "POST":
        if operations.accept_totp(user, request.form.get("code", "")[:10]):
            operations.pass_mfa(g.session_row)
            return redirect(url_for("cases.index"))
        db.session.commit()
        error = "The code is not right. Enter the current code from your authenticator app"
    return render_template("accounts/mfa.html", error=error), 400 if error else 200


@bp.route("/sign-in/set-up-code", methods=["GET", "POST"])
def enrol():
    user = g.get("pending_user")
    if user is None or user.totp_secret_ct is not None and not session.get("enrolling"):
        abort(404)
    if request.method == "GET" or not session.get("enrolling"):
        operations.set_totp_seed(user, security.new_totp_seed())
        db.session.commit()
        session["enrolling"] = True
    error = None
    if request.method == "POST":
        if operations.accept_totp(user, request.form.get("code", "")[:10]):
            session.pop("enrolling", None)
            operations.pass_mfa(g.session_row)
            flash("Your authenticator app is set up.")
            return redirect(url_for("cases.index"))
        db.session.commit()
        error = "The code is not right. Scan the code again and enter the current code"
    seed = operations.totp_seed(user)
    uri = security.totp_uri(seed, user.username)
    svg = io.BytesIO()
    segno.make(uri, error="m").save(svg, kind="svg", scale=4, xmldecl=False, svgns=True,
                                     title="QR code for your authenticator app")
    return render_template("accounts/enrol.html", qr=Markup(svg.getvalue().decode()),  # noqa: S704 -- SVG made by segno from our own URI
                           secret=_base32(seed), error=error), 400 if error else 200


def _base32(seed: bytes) -> str:
    return base64.b32encode(seed).decode().rstrip("=")


@bp.post("/sign-out")
def sign_out():
    user = g.get("user") or g.get("pending_user")
    if user is not None and user.session_token:
        operations.end_session(user.session_token, user)
    logout_user()
    session.clear()
    flash("You have signed out.")
    return redirect(url_for(".sign_in"))
