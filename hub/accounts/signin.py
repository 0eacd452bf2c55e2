"""Starting a signed-in browser session, for every way of signing in (password, single
sign-on): one place, so each ends the browser's previous session and asks for what is
still missing (a new password, the second factor)."""

from __future__ import annotations

from flask import redirect, session, url_for
from flask_login import login_user

from hub.accounts import operations


def begin_session(user, *, mfa_passed: bool):
    """Start a fresh server-side session for ``user``, ending any this browser held; local
    and single sign-on alike go on to the second factor unless it has passed already."""
    previous = session.get("_user_id")
    if previous:  # this browser was signed in: that server-side session ends here
        operations.end_session(previous, reason="signed in again")
    session.clear()  # a fresh session on sign-in: no fixation
    user.session_token = operations.start_session(user, mfa_passed=mfa_passed)
    login_user(user)
    if user.must_change_password:
        return redirect(url_for("accounts.choose_password"))
    if mfa_passed:
        return redirect(url_for("home"))
    return redirect(url_for("accounts.mfa" if user.totp_enrolled else "accounts.enrol"))
