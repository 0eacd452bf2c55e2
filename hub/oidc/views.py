"""Single sign-on pages: choose your agency's provider, and the provider's return.

Starting a sign-in is a POST (with the CSRF token), so no GET changes anything; the return
from the provider is a GET because OpenID Connect says so, and its ``state`` (single use,
bound to this browser) does the CSRF token's job.
"""

from __future__ import annotations

from flask import Blueprint, abort, redirect, render_template, request, session, url_for

from hub.accounts.signin import begin_session
from hub.extensions import limiter
from hub.oidc import operations

bp = Blueprint("oidc", __name__, url_prefix="/sign-in/sso")


def _callback_url() -> str:
    return url_for("oidc.callback", _external=True)


@bp.get("")
def choose():
    return render_template("oidc/choose.html", providers=operations.active_providers())


@bp.post("/<slug>")
@limiter.limit("20 per minute")
def begin(slug: str):
    provider = operations.provider_by_slug(slug[:32])
    if provider is None:
        abort(404)
    try:
        started = operations.start(provider, _callback_url())
    except operations.SignInRefused as exc:
        return _refused(exc)
    session["oidc"] = {"state": started.state, "verifier": started.code_verifier}
    return redirect(started.url)


@bp.get("/callback")
@limiter.limit("20 per minute")
def callback():
    pending = session.pop("oidc", None) or {}
    state, code = request.args.get("state", ""), request.args.get("code", "")
    if not state or len(state) > 128 or len(code) > 2048 or (not code and
                                                              "error" not in request.args):
        return _refused(operations.SignInRefused("malformed response from the provider"))
    try:
        user, assured = operations.finish(
            state=state, expected_state=pending.get("state"), code=code,
            redirect_uri=_callback_url(), code_verifier=pending.get("verifier"))
    except operations.SignInRefused as exc:
        return _refused(exc)
    return begin_session(user, mfa_passed=assured)


def _refused(exc: operations.SignInRefused):
    status = 503 if exc.unavailable else 400
    return render_template("oidc/refused.html", status=status), status
