"""Signing in: argon2id hashes, TOTP (enrolment, single use), no username enumeration,
throttling that ends by itself, the demo password outside demo mode, and the audit trail."""

from __future__ import annotations

import re
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from argon2 import Type, extract_parameters

from hub.accounts import security
from tests.support.factories import (
    DEMO_PASSWORD,
    PASSWORD,
    code_for,
    events_since,
    last_seq,
    make_user,
    page_text,
    seed_from_base32,
    sign_in,
    signed_in,
    user_named,
)

BAD_CREDENTIALS = {"error": {"code": "bad_credentials",
                             "message": "the username, password or code is wrong"}}
WEB_BAD = "The username or password is not right"


def token_call(client, username, password, otp=None):
    body = {"username": username, "password": password}
    if otp is not None:
        body["otp"] = otp
    return client.post("/api/v1/auth/token", json=body)


@contextmanager
def frozen():
    with time_machine.travel(datetime.now(UTC), tick=False) as traveller:
        yield traveller


@contextmanager
def demo_mode_off(app):
    saved = app.config["HUB_DEMO"]
    app.config["HUB_DEMO"] = False
    try:
        yield
    finally:
        app.config["HUB_DEMO"] = saved


# -- password hashes --------------------------------------------------------------------------
@pytest.mark.parametrize("username", [None, "police.officer"])
def test_stored_hash_is_argon2id_with_owasp_minimum_parameters(session, username):
    user = user_named(username) if username else make_user()
    params = extract_parameters(user.password_hash)
    assert params.type is Type.ID
    assert params.memory_cost >= 19456 and params.time_cost >= 2
    assert user.password_hash.startswith("$argon2id$")
    assert PASSWORD not in user.password_hash and DEMO_PASSWORD not in user.password_hash


# -- the web: password, then a code (or enrolment) ---------------------------------------------
def test_web_sign_in_asks_for_a_code_before_any_page(client, session):
    user = make_user()
    seq = last_seq()
    with frozen():
        response = sign_in(client, user.username, PASSWORD)
        assert response.headers["Location"] == "/sign-in/code"
        gate = client.get("/cases/")
        assert gate.status_code == 302 and gate.headers["Location"] == "/sign-in/code"
        wrong = client.post("/sign-in/code", data={"code": "000000"})
        assert wrong.status_code == 400 and "The code is not right" in wrong.get_data(True)
        right = client.post("/sign-in/code", data={"code": code_for(user)})
        assert right.status_code == 302 and right.headers["Location"] == "/"
        assert client.get("/cases/").status_code == 200
    trail = [(e.action, e.outcome, e.username) for e in events_since(seq, "auth:")]
    assert trail == [("auth:login", "allowed", user.username),
                     ("auth:mfa", "denied", user.username),
                     ("auth:mfa", "allowed", user.username)]


def test_a_code_works_once_only(client, session):
    user = make_user()
    with frozen() as clock:
        code = code_for(user)
        sign_in(client, user.username, PASSWORD)
        assert client.post("/sign-in/code", data={"code": code}).status_code == 302
        client.post("/sign-out")
        sign_in(client, user.username, PASSWORD)
        replay = client.post("/sign-in/code", data={"code": code})
        assert replay.status_code == 400 and not signed_in(client)
        assert token_call(client, user.username, PASSWORD, code).status_code == 401
        clock.shift(timedelta(seconds=security.TOTP_STEP))
        fresh = client.post("/sign-in/code", data={"code": code_for(user)})
        assert fresh.status_code == 302 and signed_in(client)


def test_first_sign_in_enrols_with_a_qr_code_and_the_secret(client, session):
    user = make_user(totp=False)
    with frozen():
        assert sign_in(client, user.username, PASSWORD).headers["Location"] == \
            "/sign-in/set-up-code"
        assert client.get("/sign-in/code").headers["Location"] == "/sign-in/set-up-code"
        page = client.get("/sign-in/set-up-code")
        markup = page.get_data(as_text=True)
        assert page.status_code == 200
        assert re.search(r"<svg\b[^>]*xmlns=\"http://www.w3.org/2000/svg\"", markup)
        secret = re.search(r'<code class="hub-secret">([A-Z2-7]+)</code>', markup).group(1)
        seed = seed_from_base32(secret)
        wrong = client.post("/sign-in/set-up-code", data={"code": "123456"})
        assert wrong.status_code == 400 and not signed_in(client)
        done = client.post("/sign-in/set-up-code", data={"code": code_for(seed)})
        assert done.status_code == 302 and done.headers["Location"] == "/"
        assert client.get("/cases/").status_code == 200
        assert user_named(user.username).totp_enrolled


def test_enrolled_users_go_to_the_code_page_and_cannot_re_enrol(client, session):
    user = make_user()
    sign_in(client, user.username, PASSWORD)
    assert client.get("/sign-in/set-up-code").status_code == 404
    assert client.get("/sign-in/code").status_code == 200


def test_abandoned_enrolment_starts_again_at_the_next_sign_in(client, session):
    user = make_user(totp=False)
    sign_in(client, user.username, PASSWORD)
    assert client.get("/sign-in/set-up-code").status_code == 200  # a seed is stored...
    client.post("/sign-out")
    again = sign_in(client, user.username, PASSWORD)  # ...but was never confirmed
    assert again.headers["Location"] == "/sign-in/set-up-code"
    assert client.get("/sign-in/set-up-code").status_code == 200


# -- the API token endpoint ---------------------------------------------------------------------
def test_token_endpoint_requires_a_code_for_non_demo_users(client, session, app):
    user = make_user(agency="police", role="officer")
    seq = last_seq()
    with frozen():
        assert token_call(client, user.username, PASSWORD).json == BAD_CREDENTIALS
        assert token_call(client, user.username, PASSWORD, "000000").status_code == 401
        code = code_for(user)
        issued = token_call(client, user.username, PASSWORD, code)
        assert issued.status_code == 200
        assert issued.json["token_type"] == "Bearer"
        assert issued.json["expires_in"] == app.config["HUB_TOKEN_TTL"]
        assert token_call(client, user.username, PASSWORD, code).status_code == 401  # replay
    bearer = {"Authorization": f"Bearer {issued.json['access_token']}"}
    assert client.get("/api/v1/cases", headers=bearer).json["total"] == 0
    trail = [(e.action, e.outcome) for e in events_since(seq, "auth:")]
    assert trail == [("auth:login", "denied"), ("auth:login", "denied"),
                     ("auth:token", "allowed"), ("auth:login", "denied")]


def test_never_enrolled_user_gets_no_token_whatever_the_code(client, session):
    user = make_user(totp=False)
    assert token_call(client, user.username, PASSWORD, "123456").status_code == 401


def test_token_endpoint_rejects_malformed_bodies_with_400(client, session):
    seq = last_seq()
    for body in ({}, {"username": "police.officer"}, {"username": "", "password": "x"},
                 {"username": "a", "password": "b", "extra": 1}, ["not", "an", "object"]):
        response = client.post("/api/v1/auth/token", json=body)
        assert response.status_code == 400 and response.json["error"]["code"] == "invalid"
    assert client.post("/api/v1/auth/token", data="x=1").status_code == 400
    assert events_since(seq) == []


# -- no username enumeration ----------------------------------------------------------------
def test_api_answers_unknown_user_and_wrong_password_alike(client, session):
    inactive = make_user(agency="police", role="officer")
    inactive.active = False
    unknown = token_call(client, "no.such.user", "whatever password")
    wrong = token_call(client, "police.officer", "not the password")
    disabled = token_call(client, inactive.username, PASSWORD)
    for response in (unknown, wrong, disabled):
        assert response.status_code == 401 and response.json == BAD_CREDENTIALS


class CountingHasher:
    """The real argon2 hasher, counting verifications (the work that sets response time)."""

    def __init__(self, real):
        self.real, self.verified = real, 0

    def verify(self, hashed, password):
        self.verified += 1
        return self.real.verify(hashed, password)


def test_unknown_users_cost_one_argon2_verification_like_known_ones(client, session,
                                                                    monkeypatch):
    hasher = CountingHasher(security._hasher)
    monkeypatch.setattr(security, "_hasher", hasher)
    for username in ("no.such.user", "police.officer"):
        before = hasher.verified
        assert token_call(client, username, "not the password").status_code == 401
        assert hasher.verified == before + 1, username


def test_web_answers_unknown_user_and_wrong_password_alike(client, session):
    pages = [client.post("/sign-in", data={"username": name, "password": "nope nope"})
             for name in ("no.such.user", "police.officer")]
    assert [p.status_code for p in pages] == [400, 400]
    texts = [page_text(p.get_data(as_text=True)) for p in pages]
    assert all(WEB_BAD in t for t in texts)
    assert texts[0] == texts[1]
    assert "police.officer" not in texts[1]


def test_failures_are_audited_for_known_and_unknown_usernames(client, session):
    seq = last_seq()
    token_call(client, "no.such.user", "whatever")
    client.post("/sign-in", data={"username": "police.officer", "password": "wrong"})
    denied = events_since(seq, "auth:login")
    assert [(e.outcome, e.username, e.details["channel"]) for e in denied] == [
        ("denied", None, "api"), ("denied", "police.officer", "web")]
    assert all(e.rule == "bad credentials" for e in denied)


# -- throttling ---------------------------------------------------------------------------------
@pytest.mark.parametrize("username", ["police.officer", "nobody.here"])
def test_failures_earn_growing_pauses_capped_at_fifteen_minutes(client, session, username):
    with frozen() as clock:
        for _ in range(security.FREE_FAILURES - 1):
            assert token_call(client, username, "wrong").status_code == 401
        for pause in (30, 60, 120, 240, 480, 900, 900):
            assert token_call(client, username, "wrong").status_code == 401
            clock.shift(timedelta(seconds=pause - 1))
            locked = token_call(client, username, DEMO_PASSWORD)
            assert locked.status_code == 429 and locked.json["error"]["code"] == "throttled"
            clock.shift(timedelta(seconds=2))
        if username == "police.officer":  # the real user gets in once the pause is over
            assert token_call(client, username, DEMO_PASSWORD).status_code == 200


def test_pause_ends_by_itself_and_success_resets_the_count(client, session):
    with frozen() as clock:
        for _ in range(security.FREE_FAILURES):
            token_call(client, "police.officer", "wrong")
        assert token_call(client, "police.officer", DEMO_PASSWORD).status_code == 429
        clock.shift(timedelta(seconds=31))
        assert token_call(client, "police.officer", DEMO_PASSWORD).status_code == 200
        for _ in range(security.FREE_FAILURES - 1):  # counting starts again from zero
            assert token_call(client, "police.officer", "wrong").status_code == 401
        assert token_call(client, "police.officer", DEMO_PASSWORD).status_code == 200


def _token_from(client, address: str, username: str, password: str):
    return client.post("/api/v1/auth/token", json={"username": username, "password": password},
                       environ_base={"REMOTE_ADDR": address})


def test_an_attacker_elsewhere_cannot_keep_the_real_user_out(client, session):
    """Guessing from one address pauses that address, not the user's own sign-in."""
    with frozen():
        for _ in range(security.FREE_FAILURES):
            assert _token_from(client, "203.0.113.9", "police.officer", "wrong").status_code == 401
        assert _token_from(client, "203.0.113.9", "police.officer",
                           DEMO_PASSWORD).status_code == 429
        assert _token_from(client, "198.51.100.7", "police.officer",
                           DEMO_PASSWORD).status_code == 200


def test_guesses_spread_over_many_addresses_pause_the_username_everywhere(client, session):
    """NIST SP 800-63B: at most 100 consecutive failures for one account, whoever guesses."""
    with frozen() as clock:
        for n in range(security.FREE_FAILURES_ALL_ADDRESSES):
            address = f"10.0.{n // 250}.{n % 250 + 1}"
            assert _token_from(client, address, "police.officer", "wrong").status_code == 401
        assert _token_from(client, "198.51.100.7", "police.officer",
                           DEMO_PASSWORD).status_code == 429
        clock.shift(timedelta(seconds=31))  # the first pause of the growing series
        assert _token_from(client, "198.51.100.7", "police.officer",
                           DEMO_PASSWORD).status_code == 200


def test_web_sign_in_is_throttled_too_with_429(client, session):
    seq = last_seq()
    with frozen():
        for _ in range(security.FREE_FAILURES):
            client.post("/sign-in", data={"username": "advocate", "password": "wrong"})
        locked = client.post("/sign-in", data={"username": "advocate",
                                               "password": DEMO_PASSWORD})
        assert locked.status_code == 429 and "Too many attempts" in locked.get_data(True)
    assert events_since(seq, "auth:login")[-1].rule == "throttled"


def test_guessing_codes_is_throttled_like_guessing_passwords(client, session):
    user = make_user()
    with frozen() as clock:
        sign_in(client, user.username, PASSWORD)
        for _ in range(security.FREE_FAILURES):
            assert client.post("/sign-in/code", data={"code": "000000"}).status_code == 400
        right = client.post("/sign-in/code", data={"code": code_for(user)})
        assert right.status_code == 429 and not signed_in(client)
        # Signing in with the password again does not buy fresh guesses.
        again = client.post("/sign-in", data={"username": user.username, "password": PASSWORD})
        assert again.status_code == 302  # the browser is mid-sign-in: sent back to the code
        client.post("/sign-out")
        assert client.post("/sign-in", data={"username": user.username,
                                             "password": PASSWORD}).status_code == 429
        clock.shift(timedelta(seconds=31))
        sign_in(client, user.username, PASSWORD)
        assert client.post("/sign-in/code", data={"code": code_for(user)}).status_code == 302


# -- demo mode ----------------------------------------------------------------------------------
def test_demo_password_is_refused_outside_demo_mode(client, session, app):
    user = make_user(agency="police", role="officer")
    with demo_mode_off(app):
        assert token_call(client, "police.officer", DEMO_PASSWORD).json == BAD_CREDENTIALS
        page = client.post("/sign-in", data={"username": "police.officer",
                                             "password": DEMO_PASSWORD})
        assert page.status_code == 400 and WEB_BAD in page.get_data(as_text=True)
        assert sign_in(client, user.username, PASSWORD).headers["Location"] == "/sign-in/code"
    assert token_call(client, "police.officer", DEMO_PASSWORD).status_code == 200


# -- the audit trail of signing in and out --------------------------------------------------
def test_sign_in_logout_and_token_issue_are_audited(client, session):
    seq = last_seq()
    sign_in(client, "police.officer")
    client.post("/sign-out")
    token_call(client, "nhs.clinician", DEMO_PASSWORD)
    rows = events_since(seq, "auth:")
    assert [(e.action, e.outcome, e.username, e.agency) for e in rows] == [
        ("auth:login", "allowed", "police.officer", "police"),
        ("auth:logout", "allowed", "police.officer", "police"),
        ("auth:token", "allowed", "nhs.clinician", "nhs")]
    assert all(e.client_addr and e.request_id for e in rows)
