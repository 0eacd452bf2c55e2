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
    errors, status = {}, 200
    if request.method == "POST":
        username = request.form.get("username", "")[:64]
        password = request.form.get("password", "")[:1024]
        if not username or not password:
            errors["username"], status = "Enter your username and password", 400
        else:
            outcome = operations.check_credentials(username, password, channel="web")
            if outcome.throttled:
                errors["username"] = "Too many attempts. Wait a few minutes and try again"
                status = 429
            elif outcome.user is None:
                errors["username"], status = "The username or password is not right", 400
            else:
                return begin_session(outcome.user, mfa_passed=not outcome.needs_otp)
    return render_template("accounts/sign_in.html", errors=errors), status


def begin_session(user, *, mfa_passed: bool):
    """Start a fresh server-side session for ``user``, ending any this browser held; local
    and single sign-on alike go on to the second factor unless it has passed already."""
    previous = session.get("_user_id")
    if previous:  # this browser was signed in: that server-side session ends here
        operations.end_session(previous, reason="signed in again")
    session.clear()  # a fresh session on sign-in: no fixation
    user.session_token = operations.start_session(user, mfa_passed=mfa_passed)
    login_user(user)
    if mfa_passed:
        return redirect(url_for("home"))
    return redirect(url_for("accounts.mfa" if user.totp_enrolled else "accounts.enrol"))


def _second_factor_passed(user, token: str):
    """Swap the browser to the session's new (post-MFA) token."""
    session.pop("enrolling", None)
    user.session_token = token
    login_user(user)


@bp.route("/sign-in/code", methods=["GET", "POST"])
def mfa():
    user = g.get("pending_user")
    if user is None:
        return redirect(url_for("home") if g.get("user") else url_for(".sign_in"))
    if not user.totp_enrolled:
        return redirect(url_for(".enrol"))
    error, status = None, 200
    if request.method == "POST":
        outcome = operations.check_code(g.session_row, request.form.get("code", "")[:10])
        if outcome.token:
            _second_factor_passed(user, outcome.token)
            return redirect(url_for("home"))
        error, status = _code_error(outcome, "Enter the current code from your authenticator app")
    return render_template("accounts/mfa.html", error=error), status


def _code_error(outcome, hint: str) -> tuple[str, int]:
    if outcome.throttled:
        return "Too many attempts. Wait a few minutes and try again", 429
    return f"The code is not right. {hint}", 400


@bp.route("/sign-in/set-up-code", methods=["GET", "POST"])
def enrol():
    user = g.get("pending_user")
    if user is None or (user.totp_enrolled and not session.get("enrolling")):
        abort(404)  # an enrolled user's authenticator is never replaced from here
    if request.method == "GET" or not session.get("enrolling"):
        operations.set_totp_seed(user, security.new_totp_seed())
        db.session.commit()
        session["enrolling"] = True
    error, status = None, 200
    if request.method == "POST":
        outcome = operations.check_code(g.session_row, request.form.get("code", "")[:10])
        if outcome.token:
            _second_factor_passed(user, outcome.token)
            flash("Your authenticator app is set up.")
            return redirect(url_for("home"))
        error, status = _code_error(outcome, "Scan the code again and enter the current code")
    seed = operations.totp_seed(user)
    uri = security.totp_uri(seed, user.username)
    svg = io.BytesIO()
    segno.make(uri, error="m").save(svg, kind="svg", scale=4, xmldecl=False, svgns=True,
                                     title="QR code for your authenticator app")
    return render_template("accounts/enrol.html", qr=Markup(svg.getvalue().decode()),  # noqa: S704 -- SVG made by segno from our own URI  # nosec B704
                           secret=_base32(seed), error=error), status


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
