"""Server-side sessions and API bearer tokens: revocation, deactivation, timeouts, clocks
that jump, fixation, expiry and malformed tokens."""

from __future__ import annotations

from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from hub.accounts import operations, security
from hub.accounts.models import ApiToken, UserSession
from hub.extensions import db
from tests.support.factories import (
    DEMO_PASSWORD,
    PASSWORD,
    code_for,
    cookie,
    events_since,
    last_seq,
    make_user,
    sign_in,
    signed_in,
    user_named,
    with_cookie,
)

UNAUTHORIZED = {"error": {"code": "unauthorized",
                          "message": "a valid bearer token is required"}}


@contextmanager
def frozen():
    with time_machine.travel(datetime.now(UTC), tick=False) as traveller:
        yield traveller


def api_token(client, username="police.officer", password=DEMO_PASSWORD, otp=None) -> str:
    body = {"username": username, "password": password, **({"otp": otp} if otp else {})}
    response = client.post("/api/v1/auth/token", json=body)
    assert response.status_code == 200, response.json
    return response.json["access_token"]


def bearer(client, token: str):
    return client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})


def session_token(app, cookie_value: str) -> str:
    """The server-side session token inside a signed Flask session cookie."""
    return app.session_interface.get_signing_serializer(app).loads(cookie_value)["_user_id"]


def session_row(token: str) -> UserSession:
    return db.session.scalar(select(UserSession).where(
        UserSession.token_hash == security.token_hash(token)))


# -- logout and deactivation ------------------------------------------------------------------
def test_logout_revokes_the_session_at_once(client, session, app):
    sign_in(client, "police.officer")
    old = cookie(client)
    seq = last_seq()
    assert client.post("/sign-out").headers["Location"] == "/sign-in"
    assert session_row(session_token(app, old)).revoked_at is not None
    replayed = with_cookie(client, old).get("/cases/")
    assert replayed.status_code == 302 and replayed.headers["Location"].startswith("/sign-in")
    assert [e.action for e in events_since(seq, "auth:")] == ["auth:logout"]


def test_deactivation_ends_sessions_and_tokens_at_once(client, session):
    user = make_user(agency="police", role="officer")
    with frozen() as clock:  # two codes, one time step apart: each is good once
        token = api_token(client, user.username, PASSWORD, code_for(user))
        clock.shift(timedelta(seconds=security.TOTP_STEP))
        sign_in(client, user.username, PASSWORD)
        client.post("/sign-in/code", data={"code": code_for(user)})
        assert signed_in(client) and bearer(client, token).status_code == 200
        seq = last_seq()
        operations.deactivate(user, by=user_named("admin"))
        assert not signed_in(client)
        assert bearer(client, token).json == UNAUTHORIZED
    rows = [*session.scalars(select(UserSession).filter_by(user_id=user.id)),
            *session.scalars(select(ApiToken).filter_by(user_id=user.id))]
    assert len(rows) == 2 and all(r.revoked_at is not None for r in rows)
    [event] = events_since(seq, "admin:")
    assert (event.action, event.username, event.details) == (
        "admin:user:deactivate", "admin", {"target_user_id": user.id})


def test_demo_sessions_and_tokens_stop_when_demo_mode_is_off(client, session, app):
    token = api_token(client)
    sign_in(client, "police.officer")
    saved, app.config["HUB_DEMO"] = app.config["HUB_DEMO"], False
    try:
        assert not signed_in(client)
        assert bearer(client, token).json == UNAUTHORIZED
    finally:
        app.config["HUB_DEMO"] = saved


# -- timeouts and clocks --------------------------------------------------------------------------
def test_idle_timeout_is_fifteen_minutes(client, session, app):
    assert app.config["HUB_SESSION_IDLE"] == 15 * 60
    with frozen() as clock:
        sign_in(client, "police.officer")
        old = cookie(client)
        for _ in range(3):  # activity keeps the session alive
            clock.shift(timedelta(minutes=14, seconds=59))
            assert signed_in(client)
        clock.shift(timedelta(minutes=15, seconds=1))
        gone = client.get("/cases/")
        assert gone.status_code == 302 and gone.headers["Location"].startswith("/sign-in")
        assert session_row(session_token(app, old)).revoked_at is not None
        clock.shift(timedelta(seconds=-30))  # it stays ended, even if the clock steps back
        assert not signed_in(with_cookie(client, old))


def test_absolute_lifetime_is_ten_hours_however_active(client, session, app):
    assert app.config["HUB_SESSION_ABSOLUTE"] == 10 * 3600
    with frozen() as clock:
        sign_in(client, "police.officer")
        old = cookie(client)
        for _ in range(42):  # every 14 minutes for 9 h 48 min
            clock.shift(timedelta(minutes=14))
            assert signed_in(client)
        clock.shift(timedelta(minutes=12, seconds=1))  # 10 h and 1 s after signing in
        assert not signed_in(client)
        assert not signed_in(with_cookie(client, old))


def test_a_clock_that_jumps_back_does_not_extend_a_session(client, session, app):
    with frozen() as clock:
        start = datetime.now(UTC)
        sign_in(client, "police.officer")
        old = cookie(client)
        clock.shift(timedelta(minutes=10))
        assert signed_in(client)  # last seen ten minutes after sign-in
        clock.move_to(start + timedelta(minutes=1))
        assert not signed_in(client)
        assert session_row(session_token(app, old)).revoked_at is not None
        clock.move_to(start + timedelta(minutes=11))  # forward again: still over
        assert not signed_in(with_cookie(client, old))


# -- session fixation ----------------------------------------------------------------------------
def test_session_cookie_changes_on_sign_in(client, session, app):
    client.get("/sign-in")
    before = cookie(client)
    assert before is not None  # the sign-in form already has a session (its CSRF token)
    planted = app.session_interface.get_signing_serializer(app).loads(before)
    sign_in(client, "police.officer")
    after = cookie(client)
    assert after != before
    fresh = app.session_interface.get_signing_serializer(app).loads(after)
    assert fresh.get("csrf_token") != planted.get("csrf_token")
    assert fresh["_user_id"].startswith("s_")


def test_the_pre_mfa_cookie_dies_when_mfa_passes(client, session, app):
    user = make_user()
    sign_in(client, user.username, PASSWORD)
    pending = cookie(client)
    assert client.post("/sign-in/code", data={"code": code_for(user)}).status_code == 302
    assert cookie(client) != pending and signed_in(client)
    replayed = with_cookie(client, pending).get("/sign-in/code")
    assert replayed.headers["Location"] == "/sign-in"


def test_signing_in_again_ends_the_browsers_previous_session(client, session, app):
    sign_in(client, "police.officer")
    first = cookie(client)
    seq = last_seq()
    sign_in(client, "nhs.clinician")
    assert not signed_in(with_cookie(client, first))
    assert [(e.action, e.username, e.details.get("reason")) for e in events_since(seq)][:2] == [
        ("auth:logout", "police.officer", "signed in again"),
        ("auth:login", "nhs.clinician", None)]


# -- API bearer tokens ----------------------------------------------------------------------------
def test_api_tokens_expire_after_their_ttl(client, session, app):
    ttl = app.config["HUB_TOKEN_TTL"]
    with frozen() as clock:
        token = api_token(client)
        clock.shift(timedelta(seconds=ttl - 1))
        assert bearer(client, token).status_code == 200
        clock.shift(timedelta(seconds=1))
        expired = bearer(client, token)
        assert expired.status_code == 401 and expired.json == UNAUTHORIZED
        assert expired.headers["WWW-Authenticate"].startswith("Bearer")


def _malformed(token: str, session_cookie_token: str) -> dict[str, dict[str, str]]:
    swapped = token[:-2] + token[-1] + token[-2] if token[-1] != token[-2] else token[:-1] + "x"
    return {
        "no header": {},
        "empty bearer": {"Authorization": "Bearer "},
        "garbage": {"Authorization": "Bearer garbage"},
        "truncated": {"Authorization": f"Bearer {token[:-1]}"},
        "characters swapped": {"Authorization": f"Bearer {swapped}"},
        "wrong scheme": {"Authorization": f"Basic {token}"},
        "no scheme": {"Authorization": token},
        "a session token": {"Authorization": f"Bearer {session_cookie_token}"},
        "oversized": {"Authorization": "Bearer " + "a" * 5000},
        "non-ascii": {"Authorization": "Bearer h\u00fcb_\u00e9t\u00e9"},
    }


def test_malformed_and_swapped_tokens_get_401_with_the_json_error_shape(client, session, app):
    token = api_token(client)
    sign_in(client, "police.officer")
    web_token = session_token(app, cookie(client))
    for name, headers in _malformed(token, web_token).items():
        response = client.get("/api/v1/cases", headers=headers)
        assert response.status_code == 401, name
        assert response.json == UNAUTHORIZED, name
    assert bearer(client, token).status_code == 200  # the real one still works


def test_an_api_token_is_not_a_session_cookie(client, session, app):
    token = api_token(client)
    serializer = app.session_interface.get_signing_serializer(app)
    forged = serializer.dumps({"_user_id": token, "_fresh": True})
    assert not signed_in(with_cookie(client, forged))


@pytest.mark.parametrize("username", ["police.officer", "dpo"])
def test_token_carries_the_users_own_access(client, session, username):
    response = bearer(client, api_token(client, username))
    assert response.status_code == (200 if username == "police.officer" else 403)
