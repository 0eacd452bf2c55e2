"""Sign-in pages: password, then a TOTP code (or enrolment for a first sign-in); and the
signed-in user's own account: change password, see and end sessions and API tokens."""

from __future__ import annotations

import base64
import io

import segno
from flask import Blueprint, abort, flash, g, redirect, render_template, request, session, url_for
from flask_login import login_user, logout_user
from markupsafe import Markup

from hub.accounts import operations, passwords, security
from hub.accounts.signin import begin_session
from hub.extensions import db, limiter

bp = Blueprint("accounts", __name__)


@bp.route("/sign-in", methods=["GET", "POST"])
@limiter.limit("20 per minute", methods=["POST"])
def sign_in():
    errors, status = {}, 200
    if request.method == "POST":
        username = request.form.get("username", "")[:64]
        password = request.form.get("password", "")
        if passwords.too_long(password):  # refused, never truncated (ASVS 6.2.8)
            errors["password"] = f"Password must be {passwords.MAX_LENGTH} characters or fewer"
            status = 400
        elif not username or not password:
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


# -- choosing a password after a temporary one ------------------------------------------------
@bp.route("/sign-in/new-password", methods=["GET", "POST"])
def choose_password():
    """The only page (but sign-out) a user signed in with a temporary password may reach:
    hub/web's gate sends every other address here. Then on to enrolment."""
    user = g.get("pending_user")
    if user is None or not user.must_change_password:
        return redirect(url_for("home") if g.get("user") else url_for(".sign_in"))
    errors, status = {}, 200
    if request.method == "POST":
        new = request.form.get("new_password", "")
        errors, status = _try_change(user, None, new)
        if not errors:
            flash("Your new password is set. Now set up your authenticator app.")
            return redirect(url_for(".enrol")), 303
    return render_template("accounts/choose_password.html", errors=errors,
                           min_length=passwords.MIN_LENGTH), status


def _try_change(user, current: str | None, new: str) -> tuple[dict, int]:
    """Change ``user``'s password, or say why not as form errors and a status."""
    try:
        operations.change_password(user, current, new, keep_session_id=g.session_row.id)
    except operations.PasswordRefused as exc:
        return {exc.field: exc.message}, exc.status
    return {}, 200


# -- your account -----------------------------------------------------------------------------
def _signed_in_user():
    """The fully signed-in user, or None (then the caller sends the browser to sign in)."""
    return g.get("user")


@bp.get("/account")
def account():
    user = _signed_in_user()
    if user is None:
        return redirect(url_for(".sign_in"))
    return render_template("accounts/account.html")


@bp.route("/account/password", methods=["GET", "POST"])
def change_password():
    """Change your own password: needs the current one; ends your other sessions and API
    tokens. Single sign-on users have no password here to change."""
    user = _signed_in_user()
    if user is None:
        return redirect(url_for(".sign_in"))
    single_sign_on = user.oidc_issuer is not None
    errors, status = {}, 200
    if request.method == "POST" and single_sign_on:
        status = 409  # nothing to change: the page says where the password lives
    elif request.method == "POST":
        errors, status = _try_change(user, request.form.get("current_password", ""),
                                     request.form.get("new_password", ""))
        if not errors:
            flash("Your password is changed. Your other sessions and API tokens are ended.")
            return redirect(url_for(".account")), 303
    return render_template("accounts/change_password.html", errors=errors,
                           single_sign_on=single_sign_on,
                           min_length=passwords.MIN_LENGTH), status


@bp.get("/account/sessions")
def sessions():
    user = _signed_in_user()
    if user is None:
        return redirect(url_for(".sign_in"))
    return render_template("accounts/sessions.html", sessions=operations.live_sessions(user),
                           tokens=operations.live_tokens(user),
                           current_id=g.session_row.id)


@bp.post("/account/sessions/<int:session_id>/end")
def end_session(session_id: int):
    """End one of your own sessions; ending this browser's own signs you out."""
    user = _signed_in_user()
    if user is None:
        return redirect(url_for(".sign_in"))
    if operations.end_own_session(user, session_id) is None:
        abort(404)
    if session_id == g.session_row.id:
        logout_user()
        session.clear()
        flash("You have signed out.")
        return redirect(url_for(".sign_in")), 303
    flash("That session is ended.")
    return redirect(url_for(".sessions")), 303


@bp.post("/account/tokens/<int:token_id>/end")
def end_token(token_id: int):
    user = _signed_in_user()
    if user is None:
        return redirect(url_for(".sign_in"))
    if operations.end_own_token(user, token_id) is None:
        abort(404)
    flash("That API token is revoked.")
    return redirect(url_for(".sessions")), 303
