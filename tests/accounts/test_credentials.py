"""The credential lifecycle: password rules, changing your password, an administrator's
"reset sign-in" and "create a local user" with a one-time temporary password, the forced
password change and re-enrolment that follow, and "Your sessions". Attackers included:
another user's password or session, a non-administrator resetting, a reused temporary
password, skipping the forced change, an oversized password."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from argon2 import Type, extract_parameters
from sqlalchemy import func, select

from hub.accounts import operations, passwords, security
from hub.accounts.models import ApiToken, LoginThrottle, User, UserSession
from hub.extensions import db
from tests.support.factories import (
    COOKIE,
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
    text_by_id,
    user_named,
)

NEW_PASSWORD = "violet kettle on a quiet ferry"
CASE_WORDS = ["Fenwick", "Example Road", "Testwell", "harassment convictions", "0ZZ"]


# -- helpers ----------------------------------------------------------------------------------
def browser(client, user: User):
    """Another browser, fully signed in as ``user`` (its session made directly, so no code
    is spent: TOTP codes are single-use). Returns (client, session row)."""
    other = type(client)(client.application, client.application.response_class)
    token = operations.start_session(user, mfa_passed=True)
    with other.session_transaction() as s:
        s["_user_id"], s["_fresh"] = token, True
    return other, db.session.scalar(select(UserSession).where(
        UserSession.token_hash == security.token_hash(token)))


def full_sign_in(client, user: User, password: str = PASSWORD) -> None:
    sign_in(client, user.username, password)
    r = client.post("/sign-in/code", data={"code": code_for(user)})
    assert r.status_code == 302 and r.headers["Location"] == "/", r.text[:300]


def api_token(user: User) -> str:
    return operations.issue_token(user)[0]


def bearer_works(client, token: str) -> bool:
    r = client.get("/api/v1/cases", headers={"Authorization": f"Bearer {token}"})
    return r.status_code != 401


def throttle_failures() -> int:
    return db.session.scalar(select(func.coalesce(func.sum(LoginThrottle.failures), 0)))


def audited_since(seq: int) -> list[str]:
    return [e.action for e in events_since(seq)]


def fresh(user: User) -> User:
    db.session.expire_all()
    return db.session.get(User, user.id)


# -- 1. password rules ------------------------------------------------------------------------
@pytest.mark.parametrize(("password", "why"), [
    ("fourteen chars", "at least 15"),
    ("x" * 1025, "1024 characters or fewer"),
    ("ManchesterUnited", "too common"),
    ("qwerty123456789", "too common"),
    ("my name is alice.smith ok", "username"),
    ("ALICE.SMITH is my password", "username"),
    ("the stac team rocks on", "“stac”"),
    ("my GitHub password is long", "“hub”"),
    ("", "Enter a new password"),
])
def test_password_rules_refuse(password, why):
    assert why in passwords.problem(password, "alice.smith")


@pytest.mark.parametrize("password", [
    "fifteen chars!!",  # exactly the minimum
    "all lower case words here",  # no composition rules (ASVS 6.2.5)
    "1234 5678 9012 3456 7890",
    "Ünïcödé pässwörd wïth äccents",
    "  spaces kept as typed  ",
    "y" * 64, "z" * 1024,  # long ones work (ASVS 6.2.9), up to the limit
])
def test_password_rules_accept(password):
    assert passwords.problem(password, "alice.smith") is None


def test_the_common_password_list_ships_with_the_package():
    found = passwords.common_passwords()
    assert len(found) >= 3000
    assert {"password", "123456", "qwerty", "manchesterunited"} <= found
    assert passwords.COMMON_PASSWORDS_FILE.is_file()


# -- the sign-in form refuses, never truncates, an oversized password ------------------------
def test_sign_in_refuses_a_password_over_1024_characters_and_writes_nothing(client, session):
    user = make_user(password="p" * 1024)
    seq, failures = last_seq(), throttle_failures()
    r = client.post("/sign-in", data={"username": user.username, "password": "p" * 1025})
    assert r.status_code == 400
    assert "Password must be 1024 characters or fewer" in page_text(r.text)
    assert audited_since(seq) == [] and throttle_failures() == failures
    # the first 1024 characters are the real password: truncating would have let this in
    assert not signed_in(client)


def test_a_1024_character_password_signs_in(client, session):
    user = make_user(password="p" * 1024)
    r = client.post("/sign-in", data={"username": user.username, "password": "p" * 1024})
    assert r.status_code == 302 and r.headers["Location"] == "/sign-in/code"


# -- 2. change your password ------------------------------------------------------------------
def test_change_password_ends_every_other_session_and_token(client, session):
    user = make_user()
    full_sign_in(client, user)
    other, _row = browser(client, user)
    token = api_token(user)
    assert signed_in(other) and bearer_works(client, token)
    seq = last_seq()
    page = client.get("/account/password")
    assert page.status_code == 200
    assert 'type="password"' in page.text and 'autocomplete="new-password"' in page.text
    r = client.post("/account/password", data={"current_password": PASSWORD,
                                               "new_password": NEW_PASSWORD})
    assert r.status_code == 303 and r.headers["Location"] == "/account"
    assert signed_in(client)  # this browser stays signed in
    assert not signed_in(other) and not bearer_works(client, token)
    stored = fresh(user).password_hash
    assert extract_parameters(stored).type is Type.ID and NEW_PASSWORD not in stored
    assert security.check_password(stored, NEW_PASSWORD)
    assert not security.check_password(stored, PASSWORD)
    [event] = events_since(seq, "auth:password")
    assert (event.action, event.outcome, event.username) == ("auth:password:change",
                                                             "allowed", user.username)
    assert event.details["sessions_ended"] == 1 and event.details["tokens_ended"] == 1
    assert NEW_PASSWORD not in str(event.details) and PASSWORD not in str(event.details)
    # the old password no longer signs in; the new one does
    fresh_browser = type(client)(client.application, client.application.response_class)
    r = fresh_browser.post("/sign-in", data={"username": user.username, "password": PASSWORD})
    assert r.status_code == 400
    assert sign_in(fresh_browser, user.username, NEW_PASSWORD).headers["Location"] == \
        "/sign-in/code"


def test_change_password_needs_the_current_password(client, session):
    user = make_user()
    full_sign_in(client, user)
    before, seq = user.password_hash, last_seq()
    r = client.post("/account/password", data={"current_password": "not my password at all",
                                               "new_password": NEW_PASSWORD})
    assert r.status_code == 400 and "Your current password is not right" in page_text(r.text)
    r = client.post("/account/password", data={"new_password": NEW_PASSWORD})
    assert r.status_code == 400 and "Enter your current password" in page_text(r.text)
    assert fresh(user).password_hash == before
    [denied] = events_since(seq, "auth:password")
    assert (denied.outcome, denied.rule) == ("denied", "bad credentials")


def test_wrong_current_passwords_are_throttled_like_sign_in(client, session):
    user = make_user()
    full_sign_in(client, user)
    wrong = {"current_password": "a wrong guess of mine", "new_password": NEW_PASSWORD}
    statuses = [client.post("/account/password", data=wrong).status_code
                for _ in range(security.FREE_FAILURES + 1)]
    assert statuses[:security.FREE_FAILURES] == [400] * security.FREE_FAILURES
    assert statuses[-1] == 429
    # paused: even the right current password is refused until the pause ends
    r = client.post("/account/password", data={"current_password": PASSWORD,
                                               "new_password": NEW_PASSWORD})
    assert r.status_code == 429 and "Too many attempts" in page_text(r.text)
    assert security.check_password(fresh(user).password_hash, PASSWORD)
    with time_machine.travel(datetime.now(UTC) + timedelta(minutes=1), tick=False):
        # the sign-in page is paused for this user too: one counter for both
        other = type(client)(client.application, client.application.response_class)
        for _ in range(2):
            other.post("/sign-in", data={"username": user.username, "password": "wrong"})
        r = other.post("/sign-in", data={"username": user.username, "password": PASSWORD})
        assert r.status_code == 429


@pytest.mark.parametrize(("new", "why"), [
    ("short one", "at least 15"),
    ("1q2w3e4r5t6y7u8i", "too common"),
    ("a stac hub password", "“stac”"),
])
def test_a_weak_new_password_is_refused_and_nothing_changes(client, session, new, why):
    user = make_user()
    full_sign_in(client, user)
    before = user.password_hash
    r = client.post("/account/password", data={"current_password": PASSWORD,
                                               "new_password": new})
    assert r.status_code == 400 and why in page_text(r.text)
    assert 'class="govuk-error-summary"' in r.text and 'href="#new_password"' in r.text
    assert fresh(user).password_hash == before


def test_new_password_containing_the_username_is_refused(client, session):
    user = make_user(username="jo.bloggs")
    full_sign_in(client, user)
    r = client.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "hello Jo.Bloggs, long enough"})
    assert r.status_code == 400 and "must not contain your username" in page_text(r.text)


@pytest.mark.parametrize("field", ["new_password", "current_password"])
def test_an_oversized_password_is_400_and_nothing_is_written(client, session, field):
    user = make_user()
    full_sign_in(client, user)
    before, seq, failures = user.password_hash, last_seq(), throttle_failures()
    data = {"current_password": PASSWORD, "new_password": NEW_PASSWORD, field: "q" * 1025}
    r = client.post("/account/password", data=data)
    assert r.status_code == 400
    assert fresh(user).password_hash == before
    assert audited_since(seq) == [] and throttle_failures() == failures


def test_nobody_can_change_another_users_password(client, session):
    attacker, victim = make_user(), make_user(password=NEW_PASSWORD)
    full_sign_in(client, attacker)
    before = victim.password_hash
    # the victim's password as "current", the victim named in the form: still the attacker's
    r = client.post("/account/password", data={
        "current_password": NEW_PASSWORD, "new_password": "attacker chose this one",
        "username": victim.username, "user_id": str(victim.id)})
    assert r.status_code == 400
    r = client.post("/account/password", data={
        "current_password": PASSWORD, "new_password": "attacker chose this one",
        "username": victim.username, "user_id": str(victim.id)})
    assert r.status_code == 303
    assert fresh(victim).password_hash == before
    assert security.check_password(fresh(attacker).password_hash, "attacker chose this one")


def test_change_password_needs_a_signed_in_user(client, session):
    r = client.post("/account/password", data={"current_password": DEMO_PASSWORD,
                                               "new_password": NEW_PASSWORD})
    assert r.status_code == 302 and r.headers["Location"] == "/sign-in"
    assert client.get("/account").headers["Location"] == "/sign-in"


def test_single_sign_on_users_are_told_they_have_no_password_here(client, session):
    user = make_user(totp=False)
    user.oidc_issuer, user.oidc_subject, user.password_hash = "https://idp.example", "s1", None
    db.session.commit()
    sso, _row = browser(client, user)
    page = sso.get("/account/password")
    assert page.status_code == 200
    assert "you have no STAC Hub password" in text_by_id(page.text, "single-sign-on")
    assert 'type="password"' not in page.text
    r = sso.post("/account/password", data={"current_password": "x",
                                            "new_password": NEW_PASSWORD})
    assert r.status_code == 409 and fresh(user).password_hash is None


# -- 3. an administrator resets a user's sign-in ----------------------------------------------
def reset_via_web(client, target: User) -> str:
    sign_in(client, "admin")
    r = client.post(f"/admin/users/{target.id}/reset-sign-in")
    assert r.status_code == 200, r.text[:300]
    assert not [w for w in CASE_WORDS if w in r.text]
    password = text_by_id(r.text, "temporary-password")
    assert password and len(password) == 24
    client.post("/sign-out")
    return password


def test_reset_issues_a_temporary_password_and_ends_everything_at_once(client, session):
    target = make_user()
    other, row = browser(client, target)
    token = api_token(target)
    seq = last_seq()
    temporary = reset_via_web(client, target)
    target = fresh(target)
    assert target.must_change_password and not target.totp_enrolled
    assert target.totp_secret_ct is None
    assert security.check_password(target.password_hash, temporary)
    assert not security.check_password(target.password_hash, PASSWORD)
    assert temporary not in target.password_hash
    assert db.session.get(UserSession, row.id).revoked_at is not None
    assert not signed_in(other) and not bearer_works(client, token)
    [event] = events_since(seq, "admin:user:reset")
    assert (event.username, event.details["target_user_id"]) == ("admin", target.id)
    assert event.details["sessions_ended"] == 1 and event.details["tokens_ended"] == 1
    assert temporary not in str(event.details)


def test_after_a_reset_the_user_chooses_a_password_then_enrols_before_anything_else(
        client, session):
    target = make_user()
    temporary = reset_via_web(client, target)
    r = client.post("/sign-in", data={"username": target.username, "password": temporary})
    assert r.status_code == 302 and r.headers["Location"] == "/sign-in/new-password"
    # typing other addresses does not skip the change, enrolment and the code page included
    for path in ["/", "/cases/", "/account", "/account/password", "/account/sessions",
                 "/admin/", "/sign-in/code", "/sign-in/set-up-code", "/dpo/"]:
        r = client.get(path)
        assert r.status_code == 302 and r.headers["Location"] == "/sign-in/new-password", path
    for path, data in [("/sign-in/code", {"code": "123456"}),
                       ("/account/password", {"current_password": temporary,
                                              "new_password": NEW_PASSWORD})]:
        r = client.post(path, data=data)
        assert r.headers["Location"] == "/sign-in/new-password", path
    assert fresh(target).must_change_password
    # the page offers sign-out, and refuses weak passwords and the temporary one
    page = client.get("/sign-in/new-password")
    assert page.status_code == 200 and "Sign out" in page.text
    assert client.post("/sign-in/new-password",
                       data={"new_password": "short"}).status_code == 400
    r = client.post("/sign-in/new-password", data={"new_password": temporary})
    assert r.status_code == 400 and "not the temporary one" in page_text(r.text)
    seq = last_seq()
    r = client.post("/sign-in/new-password", data={"new_password": NEW_PASSWORD})
    assert r.status_code == 303 and r.headers["Location"] == "/sign-in/set-up-code"
    [event] = events_since(seq, "auth:password")
    assert event.details["forced"] is True
    # then enrolment, and only then the hub
    assert client.get("/cases/").headers["Location"] == "/sign-in/code"
    enrol = client.get("/sign-in/set-up-code")
    assert enrol.status_code == 200 and "Sign out" in enrol.text
    seed = seed_from_base32(_secret(enrol.text))
    r = client.post("/sign-in/set-up-code", data={"code": security.totp_now(seed)})
    assert r.status_code == 302 and r.headers["Location"] == "/"
    assert signed_in(client)
    assert client.get("/account").status_code == 200


def _secret(markup: str) -> str:
    import re

    return re.search(r'class="hub-secret">([A-Z2-7]+)<', markup).group(1)


def test_a_temporary_password_works_once_only(client, session):
    target = make_user()
    temporary = reset_via_web(client, target)
    sign_in(client, target.username, temporary)
    client.post("/sign-in/new-password", data={"new_password": NEW_PASSWORD})
    client.post("/sign-out")
    seq = last_seq()
    r = client.post("/sign-in", data={"username": target.username, "password": temporary})
    assert r.status_code == 400 and not signed_in(client)
    [event] = events_since(seq, "auth:login")
    assert event.outcome == "denied"
    assert not fresh(target).must_change_password


def test_a_temporary_password_expires_after_a_day(client, session):
    target = make_user()
    temporary = reset_via_web(client, target)
    later = datetime.now(UTC) + operations.TEMPORARY_PASSWORD_TTL + timedelta(minutes=1)
    with time_machine.travel(later, tick=False):
        r = client.post("/sign-in", data={"username": target.username,
                                          "password": temporary})
        assert r.status_code == 400


def test_a_temporary_password_gets_no_api_token(client, session):
    target = make_user()
    temporary = reset_via_web(client, target)
    r = client.post("/api/v1/auth/token", json={"username": target.username,
                                                "password": temporary, "otp": "123456"})
    assert r.status_code == 401


def test_signing_out_from_the_forced_change_page_works(client, session):
    target = make_user()
    temporary = reset_via_web(client, target)
    sign_in(client, target.username, temporary)
    r = client.post("/sign-out")
    assert r.headers["Location"] == "/sign-in"
    assert client.get("/sign-in/new-password").headers["Location"] == "/sign-in"


@pytest.mark.parametrize("username", ["police.officer", "dpo", "police.supervisor"])
def test_only_administrators_reset_sign_ins(client, api, session, username):
    target = make_user()
    before, seq = target.password_hash, last_seq()
    sign_in(client, username)
    assert client.post(f"/admin/users/{target.id}/reset-sign-in").status_code == 403
    r = api(username).post(f"/admin/users/{target.id}/reset-sign-in")
    assert r.status_code == 403 and "temporary_password" not in r.text
    assert fresh(target).password_hash == before and fresh(target).totp_enrolled
    denied = [e for e in events_since(seq) if e.outcome == "denied"]
    assert len(denied) == 2 and {e.username for e in denied} == {username}


def test_reset_through_the_api(api, session, client):
    target = make_user()
    token = api_token(target)
    seq = last_seq()
    r = api("admin").post(f"/admin/users/{target.id}/reset-sign-in")
    assert r.status_code == 200
    body = r.json
    assert body["username"] == target.username and len(body["temporary_password"]) == 24
    assert body["temporary_password_expires_at"]
    assert security.check_password(fresh(target).password_hash, body["temporary_password"])
    assert not bearer_works(client, token)
    assert audited_since(seq) == ["admin:user:reset-sign-in"]
    assert api("admin").post("/admin/users/999999/reset-sign-in").status_code == 404


def test_reset_refuses_oneself_and_single_sign_on_users(api, session):
    sso = make_user(totp=False)
    sso.oidc_issuer, sso.oidc_subject, sso.password_hash = "https://idp.example", "s2", None
    db.session.commit()
    admin_id = user_named("admin").id
    for user_id in (admin_id, sso.id):
        r = api("admin").post(f"/admin/users/{user_id}/reset-sign-in")
        assert r.status_code == 409, r.json
    assert fresh(sso).password_hash is None and not fresh(sso).must_change_password


def test_a_reset_demo_user_is_no_longer_a_demo_user(client, session):
    target = user_named("advocate")
    temporary = reset_via_web(client, target)
    assert not fresh(target).is_demo
    r = client.post("/sign-in", data={"username": "advocate", "password": DEMO_PASSWORD})
    assert r.status_code == 400
    assert sign_in(client, "advocate", temporary).headers["Location"] == "/sign-in/new-password"


# -- 3b. an administrator creates a local user ------------------------------------------------
def test_create_a_local_user_on_the_web_then_their_first_sign_in(client, session):
    sign_in(client, "admin")
    form = client.get("/admin/users/new")
    assert form.status_code == 200 and 'value="nhs:clinician"' in form.text
    seq = last_seq()
    r = client.post("/admin/users/new", data={
        "username": "sam.new", "display_name": "Sam New", "agency_role": "nhs:clinician",
        "area": "london"})
    assert r.status_code == 200, page_text(r.text)[:300]
    temporary = text_by_id(r.text, "temporary-password")
    created = user_named("sam.new")
    assert (created.agency.code, created.role, created.area.code) == ("nhs", "clinician",
                                                                      "london")
    assert created.must_change_password and not created.totp_enrolled and not created.is_demo
    [event] = events_since(seq, "admin:user:create")
    assert event.details["target_user_id"] == created.id and event.username == "admin"
    client.post("/sign-out")
    assert sign_in(client, "sam.new", temporary).headers["Location"] == "/sign-in/new-password"
    r = client.post("/sign-in/new-password", data={"new_password": NEW_PASSWORD})
    assert r.headers["Location"] == "/sign-in/set-up-code"


@pytest.mark.parametrize(("data", "field"), [
    ({"username": "Bad Name!"}, "username"),
    ({"agency_role": "nhs:officer"}, "agency_role"),  # a police role in the NHS
    ({"agency_role": ""}, "agency_role"),
    ({"display_name": ""}, "display_name"),
    ({"username": "police.officer"}, "username"),  # taken
    ({"area": "atlantis"}, "area"),
])
def test_create_user_form_refuses_bad_input(client, session, data, field):
    sign_in(client, "admin")
    count = db.session.scalar(select(func.count()).select_from(User))
    good = {"username": "kim.new", "display_name": "Kim New", "agency_role": "nhs:clinician",
            "area": "london"}
    r = client.post("/admin/users/new", data={**good, **data})
    assert r.status_code == 400
    assert f'href="#{field}"' in r.text and "temporary-password" not in r.text
    assert db.session.scalar(select(func.count()).select_from(User)) == count


def test_create_user_through_the_api(api, session):
    seq = last_seq()
    body = {"username": "lee.api", "display_name": "Lee Api", "agency": "probation",
            "role": "probation_officer"}
    r = api("admin").post("/admin/users", json=body)
    assert r.status_code == 201, r.json
    assert r.json["username"] == "lee.api" and len(r.json["temporary_password"]) == 24
    assert user_named("lee.api").must_change_password
    assert audited_since(seq) == ["admin:user:create"]
    assert api("admin").post("/admin/users", json=body).status_code == 409
    for bad in [{**body, "username": "other.one", "agency": "nowhere"},
                {**body, "username": "other.one", "role": "clinician"},
                {**body, "username": "other.one", "is_admin": True},
                {"username": "x"}]:
        assert api("admin").post("/admin/users", json=bad).status_code == 400, bad
    r = api("police.officer").post("/admin/users", json={**body, "username": "sneaky"})
    assert r.status_code == 403 and user_named("sneaky") is None


def test_the_new_admin_routes_are_in_the_openapi_description(client, session):
    paths = client.get("/api/v1/openapi.json").json["paths"]
    assert "post" in paths["/admin/users"]
    assert "post" in paths["/admin/users/{user_id}/reset-sign-in"]


# -- 4. your sessions -------------------------------------------------------------------------
def test_your_sessions_lists_sessions_and_tokens_and_marks_this_one(client, session):
    user = make_user()
    full_sign_in(client, user)
    _other, other_row = browser(client, user)
    token_row = db.session.scalar(select(ApiToken).where(
        ApiToken.token_hash == security.token_hash(api_token(user))))
    _stranger, stranger_row = browser(client, make_user())
    page = client.get("/account/sessions")
    assert page.status_code == 200
    sessions = text_by_id(page.text, "sessions")
    assert sessions.count("UTC") == 4 and sessions.count("This browser") == 2  # heading + tag
    assert f"/account/sessions/{other_row.id}/end" in page.text
    assert f"/account/sessions/{stranger_row.id}/end" not in page.text
    assert f"/account/tokens/{token_row.id}/end" in page.text
    assert token_row.expires_at.strftime("%Y-%m-%d %H:%M") in text_by_id(page.text, "tokens")


def test_ending_another_of_your_sessions(client, session):
    user = make_user()
    full_sign_in(client, user)
    other, row = browser(client, user)
    seq = last_seq()
    r = client.post(f"/account/sessions/{row.id}/end")
    assert r.status_code == 303 and r.headers["Location"] == "/account/sessions"
    assert not signed_in(other) and signed_in(client)
    [event] = events_since(seq, "auth:session")
    assert (event.outcome, event.details["session_id"]) == ("allowed", row.id)


def test_ending_this_session_signs_out(client, session):
    user = make_user()
    full_sign_in(client, user)
    current = client.get("/account/sessions")
    row = db.session.scalar(select(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None)))
    assert f"/account/sessions/{row.id}/end" in current.text
    r = client.post(f"/account/sessions/{row.id}/end")
    assert r.status_code == 303 and r.headers["Location"] == "/sign-in"
    assert not signed_in(client)
    assert db.session.get(UserSession, row.id).revoked_at is not None


def test_ending_someone_elses_session_by_id_is_404_and_changes_nothing(client, session):
    attacker, victim = make_user(), make_user()
    full_sign_in(client, attacker)
    victims_browser, row = browser(client, victim)
    victims_token = db.session.scalar(select(ApiToken).where(
        ApiToken.token_hash == security.token_hash(token := api_token(victim))))
    seq = last_seq()
    assert client.post(f"/account/sessions/{row.id}/end").status_code == 404
    assert client.post(f"/account/tokens/{victims_token.id}/end").status_code == 404
    assert client.post("/account/sessions/99999999/end").status_code == 404
    assert signed_in(victims_browser) and bearer_works(client, token)
    assert db.session.get(UserSession, row.id).revoked_at is None
    denied = events_since(seq, "auth:")
    assert [(e.action, e.outcome) for e in denied] == [
        ("auth:session:end", "denied"), ("auth:token:revoke", "denied"),
        ("auth:session:end", "denied")]
    assert all(e.username == attacker.username for e in denied)


def test_revoking_your_api_token(client, session):
    user = make_user()
    full_sign_in(client, user)
    token = api_token(user)
    row = db.session.scalar(select(ApiToken).where(
        ApiToken.token_hash == security.token_hash(token)))
    seq = last_seq()
    r = client.post(f"/account/tokens/{row.id}/end")
    assert r.status_code == 303 and not bearer_works(client, token)
    [event] = events_since(seq, "auth:token")
    assert (event.action, event.details["token_id"]) == ("auth:token:revoke", row.id)
    assert f"/account/tokens/{row.id}/end" not in client.get("/account/sessions").text


def test_session_pages_need_a_signed_in_user(client, session):
    for method, path in [("get", "/account/sessions"), ("post", "/account/sessions/1/end"),
                         ("post", "/account/tokens/1/end")]:
        r = getattr(client, method)(path)
        assert r.status_code == 302 and r.headers["Location"] == "/sign-in", path


def test_ending_sessions_is_never_a_get(client, session):
    sign_in(client, "police.officer")
    assert client.get("/account/sessions/1/end").status_code == 405
    assert client.get("/account/tokens/1/end").status_code == 405


# -- 5. links ---------------------------------------------------------------------------------
def test_every_page_links_to_your_account_which_links_to_both_pages(client, session):
    sign_in(client, "police.officer")
    home = client.get("/cases/")
    assert 'href="/account"' in home.text and "Your account" in home.text
    account = client.get("/account")
    assert account.status_code == 200
    assert 'href="/account/password"' in account.text
    assert 'href="/account/sessions"' in account.text


def test_code_and_enrolment_pages_offer_sign_out(client, session):
    enrolled, new = make_user(), make_user(totp=False)
    sign_in(client, enrolled.username, PASSWORD)
    page = client.get("/sign-in/code")
    assert 'action="/sign-out"' in page.text and "Sign out" in page_text(page.text)
    assert client.post("/sign-out").headers["Location"] == "/sign-in"
    assert client.get("/sign-in/code").headers["Location"] == "/sign-in"
    sign_in(client, new.username, PASSWORD)
    page = client.get("/sign-in/set-up-code")
    assert 'action="/sign-out"' in page.text and "Sign out" in page_text(page.text)


def test_cookie_name_is_what_the_helpers_expect(app):
    assert app.config["SESSION_COOKIE_NAME"] == COOKIE
