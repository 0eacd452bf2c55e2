"""What every web page shares: the signed-in user, the MFA gate, error pages.

Shared base handling does authentication, CSRF (Flask-WTF, app-wide) and the MFA check
once, so no page can forget them.
"""

from __future__ import annotations

import contextlib
from pathlib import Path

from flask import (
    Blueprint,
    Flask,
    g,
    make_response,
    redirect,
    render_template,
    request,
    session,
    url_for,
)
from flask_login import current_user
from sqlalchemy.exc import InterfaceError, OperationalError, SQLAlchemyError
from werkzeug.exceptions import HTTPException

from hub import access
from hub.accounts import operations as accounts
from hub.auditlog.writer import AuditUnavailable
from hub.boundary import carry_headers
from hub.extensions import db, login_manager
from hub.policy import Permission
from hub.web import formatting

# Pages a signed-in user who has not yet passed MFA may still reach.
# GOV.UK Frontend's fonts and images too: redirecting them sent the browser to the
# enrolment page again, which replaced the seed the person was scanning.
MFA_EXEMPT = {"accounts.mfa", "accounts.enrol", "accounts.sign_out", "static",
              "govuk_assets.static", "favicon"}
# Pages a user signed in with an administrator's temporary password may reach: they must
# choose their own password before anything else, enrolment and the code page included.
PASSWORD_CHANGE_EXEMPT = {"accounts.choose_password", "accounts.sign_out", "static",
                          "govuk_assets.static", "favicon"}


@login_manager.user_loader
def _load_user(token: str):
    row = accounts.load_session(token)
    if row is None:
        return None
    g.session_row = row
    row.user.session_token = token
    return row.user


def register(app: Flask) -> None:
    from hub.accounts.views import bp as accounts_bp
    from hub.cases.casework_views import bp as referrals_bp
    from hub.cases.views import bp as cases_bp
    from hub.dpo.audit_views import bp as audit_bp
    from hub.dpo.views import bp as dpo_bp
    from hub.policy.views import bp as policy_bp

    login_manager.login_view = "accounts.sign_in"
    login_manager.login_message = "Sign in to continue."
    app.register_blueprint(accounts_bp)
    app.register_blueprint(cases_bp)
    app.register_blueprint(referrals_bp)
    app.register_blueprint(audit_bp)
    app.register_blueprint(policy_bp)  # also records policy changes before any request
    app.register_blueprint(dpo_bp)
    # GOV.UK Frontend's stylesheet refers to its fonts and images under /assets.
    app.register_blueprint(Blueprint(
        "govuk_assets", __name__, static_url_path="/assets",
        static_folder=str(Path(app.static_folder) / "govuk" / "assets")))
    app.before_request(_load_signed_in_user)
    app.register_error_handler(HTTPException, page_error)
    app.register_error_handler(AuditUnavailable, _audit_unavailable)
    # A database that is down or unreachable: nothing can be read without an audit record.
    app.register_error_handler(OperationalError, _audit_unavailable)
    app.register_error_handler(InterfaceError, _audit_unavailable)
    app.add_url_rule("/", "home", _home)
    app.add_url_rule("/healthz", "healthz", lambda: {"status": "ok"})
    # Browsers ask for /favicon.ico on their own: the hub's icon answers, not a 404.
    icon = Path(app.static_folder) / "favicon.svg"
    app.add_url_rule("/favicon.ico", "favicon", lambda: app.response_class(
        icon.read_bytes(), mimetype="image/svg+xml"))
    app.context_processor(lambda: {"user": g.get("user"), "can": _can})
    formatting.register(app)


# Where each person starts, by the first of these permissions they hold.
HOMES = ((Permission.CASE_LIST, "cases.index"), (Permission.AUDIT_READ, "dpo.dashboard"),
         (Permission.ADMIN_MANAGE, "admin.index"))


def _can(permission: str) -> bool:
    """For templates: may the signed-in person do this? (The routes check again.)"""
    return g.get("user") is not None and access.can(Permission(permission))


def _home():
    """Caseworkers start at their cases, DPOs at the DPO console, administrators at the
    admin pages; anyone else (or nobody signed in) at the case list, which says why not."""
    endpoint = next((e for permission, e in HOMES if _can(permission)), "cases.index")
    return redirect(url_for(endpoint))


def _load_signed_in_user():
    if request.blueprint == "api":
        return None
    if current_user.is_authenticated:
        row = g.get("session_row")
        if current_user.must_change_password:
            if request.endpoint not in PASSWORD_CHANGE_EXEMPT:
                return redirect(url_for("accounts.choose_password"))
            g.pending_user = current_user._get_current_object()
            return None
        if row is not None and row.user.mfa_required and not row.mfa_passed:
            if request.endpoint not in MFA_EXEMPT:
                return redirect(url_for("accounts.mfa"))
            g.pending_user = current_user._get_current_object()
            return None
        g.user = current_user._get_current_object()
    elif session.get("_user_id"):
        session.clear()  # the server-side session ended: expired, revoked or deactivated
    return None


def _is_api() -> bool:
    return request.path.startswith("/api/")


# What a page says for refusals that need more than their name; a 400 says what was wrong.
ERROR_MESSAGES = {
    405: "This page cannot be used that way.",
    413: "What you sent is too large. Shorten it and try again.",
}


def page_error(exc: HTTPException):
    """The error page, keeping the headers HTTP asks for (Allow on a 405)."""
    if _is_api():
        from hub.api import http_error

        return http_error(exc)
    status = exc.code or 500
    response = make_response(render_template(
        "error.html", status=status, title=exc.name,
        message=exc.description if status == 400 else ERROR_MESSAGES.get(status)), status)
    return carry_headers(response, exc)


def _audit_unavailable(_exc):
    with contextlib.suppress(SQLAlchemyError):  # the connection may be gone already
        db.session.rollback()
    if _is_api():
        from hub.api import audit_unavailable

        return audit_unavailable(_exc)
    # The rollback expired the signed-in user; naming them would ask the database again,
    # which may wait on the very lock that failed. The page names nobody.
    g.pop("user", None)
    return render_template("error.html", status=503, title="Service unavailable",
                           message="The audit log cannot be written right now, so nothing "
                                   "can be shown. Try again in a few minutes."), 503
