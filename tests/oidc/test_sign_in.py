"""Single sign-on end to end: the hub, a real provider process, real HTTP between them."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.accounts.models import User, UserSession
from hub.auditlog.models import AuditEvent
from tests.oidc.conftest import add_provider, path_of

CLAIMS = {"hub_role": "PC", "amr": ["pwd", "mfa"], "name": "Alice Example",
          "preferred_username": "alice"}


def begin(client, slug: str) -> str:
    r = client.post(f"/sign-in/sso/{slug}")
    assert r.status_code == 302, r.text
    return r.headers["Location"]


def sign_in(client, provider, slug: str, sub: str):
    callback = provider.authorize(begin(client, slug), sub)
    return client.get(path_of(callback))


def signed_in(client) -> bool:
    r = client.get("/cases/")
    return r.status_code == 200


def last_refusal(session) -> AuditEvent:
    return session.scalars(select(AuditEvent).where(AuditEvent.action == "auth:oidc")
                           .order_by(AuditEvent.seq.desc())).first()


def user_for(session, provider, sub) -> User | None:
    return session.scalar(select(User).where(User.oidc_issuer == provider.issuer,
                                             User.oidc_subject == sub))


@pytest.fixture
def police(session, providers):
    return add_provider(session, providers[0], "met")


def test_happy_path_provisions_a_police_officer(client, session, providers, police):
    providers[0].set_user("alice", **CLAIMS)
    r = sign_in(client, providers[0], "met", "alice")
    assert r.status_code == 302 and r.headers["Location"].endswith("/"), last_refusal(session)
    assert signed_in(client)
    user = user_for(session, providers[0], "alice")
    assert (user.agency.code, user.role, user.username) == ("police", "officer", "met.alice")
    assert user.display_name == "Alice Example" and user.password_hash is None
    actions = set(session.scalars(select(AuditEvent.action).where(
        AuditEvent.user_id == user.id)))
    assert {"auth:oidc:provision", "auth:login"} <= actions


def test_authorization_request_carries_pkce_nonce_and_state(client, police):
    url = begin(client, "met")
    for part in ("code_challenge_method=S256", "code_challenge=", "nonce=", "state=",
                 "response_type=code", "scope=openid"):
        assert part in url


def test_a_second_sign_in_finds_the_same_user(client, session, providers, police):
    providers[0].set_user("bob", **{**CLAIMS, "preferred_username": "bob"})
    sign_in(client, providers[0], "met", "bob")
    client.post("/sign-out")
    assert sign_in(client, providers[0], "met", "bob").status_code == 302
    assert len(session.scalars(select(User).where(User.oidc_subject == "bob")).all()) == 1


@pytest.mark.parametrize(("mode", "why"), [
    ("tamper", "signature rejected"), ("alg_none", "signature rejected"),
    ("other_key", "signature rejected"), ("aud", "Invalid claim: 'aud'"),
    ("iss", "Invalid claim: 'iss'"), ("expired", "expired_token")])
def test_bad_id_tokens_are_refused_and_audited(client, session, providers, police, mode, why):
    providers[0].set_user(f"eve-{mode}", **CLAIMS)
    providers[0].fault(mode)
    r = sign_in(client, providers[0], "met", f"eve-{mode}")
    assert r.status_code == 400
    assert not signed_in(client)
    assert user_for(session, providers[0], f"eve-{mode}") is None
    event = last_refusal(session)
    assert event.outcome == "denied" and event.details["provider"] == "met"
    assert why in event.rule


def test_replayed_id_token_is_refused_by_its_nonce(client, session, providers, police):
    providers[0].set_user("carol", **CLAIMS)
    assert sign_in(client, providers[0], "met", "carol").status_code == 302
    client.post("/sign-out")
    providers[0].fault("replay")  # the provider hands back the ID token of the last sign-in
    r = sign_in(client, providers[0], "met", "carol")
    assert r.status_code == 400 and not signed_in(client)
    assert "nonce" in last_refusal(session).rule


def test_replayed_state_is_refused(client, session, providers, police):
    providers[0].set_user("dave", **CLAIMS)
    callback = providers[0].authorize(begin(client, "met"), "dave")
    with client.session_transaction() as s:
        pending = dict(s["oidc"])
    assert client.get(path_of(callback)).status_code == 302
    client.post("/sign-out")
    with client.session_transaction() as s:  # an attacker who kept the old cookie, too
        s["oidc"] = pending
    assert client.get(path_of(callback)).status_code == 400
    assert "already used" in last_refusal(session).rule


def test_state_from_another_browser_is_refused(app, client, session, providers, police):
    providers[0].set_user("erin", **CLAIMS)
    callback = providers[0].authorize(begin(client, "met"), "erin")
    victim = app.test_client()  # login CSRF: the attacker's callback in the victim's browser
    assert victim.get(path_of(callback)).status_code == 400
    assert "state does not match" in last_refusal(session).rule


def test_wrong_pkce_verifier_is_refused(client, session, providers, police):
    providers[0].set_user("frank", **CLAIMS)
    callback = providers[0].authorize(begin(client, "met"), "frank")
    with client.session_transaction() as s:
        s["oidc"] = {**s["oidc"], "verifier": "x" * 64}
    assert client.get(path_of(callback)).status_code == 400
    assert "refused the code" in last_refusal(session).rule


def test_same_subject_at_two_providers_is_two_users(client, session, providers, police):
    add_provider(session, providers[1], "hants")
    for provider in providers:
        provider.set_user("shared-sub", **{**CLAIMS, "preferred_username": "sam"})
    assert sign_in(client, providers[0], "met", "shared-sub").status_code == 302
    client.post("/sign-out")
    assert sign_in(client, providers[1], "hants", "shared-sub").status_code == 302
    first, second = (user_for(session, p, "shared-sub") for p in providers)
    assert first.id != second.id and first.username != second.username


def test_unknown_role_is_refused_and_audited(client, session, providers, police):
    providers[0].set_user("mallory", **{**CLAIMS, "hub_role": "chief-constable"})
    r = sign_in(client, providers[0], "met", "mallory")
    assert r.status_code == 400 and not signed_in(client)
    assert user_for(session, providers[0], "mallory") is None
    event = last_refusal(session)
    assert "maps to no single known role" in event.rule
    assert event.details["claim_values"] == ["chief-constable"]


def test_a_role_of_another_agency_is_refused(client, session, providers, police):
    police.role_map = {**police.role_map, "DOC": "clinician"}  # an NHS role from the police IdP
    session.commit()
    providers[0].set_user("ned", **{**CLAIMS, "hub_role": "DOC"})
    assert sign_in(client, providers[0], "met", "ned").status_code == 400
    assert user_for(session, providers[0], "ned") is None


def test_weak_assurance_signs_in_but_asks_for_the_hub_code(client, session, providers, police):
    providers[0].set_user("pat", **{**CLAIMS, "amr": ["pwd"]})
    r = sign_in(client, providers[0], "met", "pat")
    assert r.status_code == 302 and "/sign-in/set-up-code" in r.headers["Location"]
    assert client.get("/cases/").status_code == 302  # not through the MFA gate


def test_a_provider_that_promises_nothing_gets_the_hub_code(client, session, providers):
    """No acr and no amr required: its strong-looking claims assure nothing."""
    add_provider(session, providers[0], "lax", required_amr=[])
    providers[0].set_user("lee", **CLAIMS)
    r = sign_in(client, providers[0], "lax", "lee")
    assert r.status_code == 302 and "/sign-in/set-up-code" in r.headers["Location"]
    assert not signed_in(client)


def test_single_sign_on_ends_the_session_this_browser_held(client, session, providers, police):
    providers[0].set_user("alice", **CLAIMS)
    assert sign_in(client, providers[0], "met", "alice").status_code == 302
    first = session.scalar(select(UserSession).order_by(UserSession.id.desc()))
    assert sign_in(client, providers[0], "met", "alice").status_code == 302
    session.refresh(first)
    assert first.revoked_at is not None and signed_in(client)


def test_deactivated_user_cannot_come_back(client, session, providers, police):
    from hub.accounts import operations

    providers[0].set_user("quinn", **CLAIMS)
    sign_in(client, providers[0], "met", "quinn")
    admin = session.scalar(select(User).where(User.username == "admin"))
    operations.deactivate(user_for(session, providers[0], "quinn"), admin)
    assert not signed_in(client)  # the live session ended at once
    assert sign_in(client, providers[0], "met", "quinn").status_code == 400
    assert last_refusal(session).rule == "account is deactivated"


def test_discovery_naming_another_issuer_is_refused(client, session, providers):
    row = add_provider(session, providers[1], "odd")
    row.issuer = providers[1].issuer + "/"  # not byte-for-byte the provider's issuer
    session.commit()
    assert client.post("/sign-in/sso/odd").status_code == 400
    assert "different issuer" in last_refusal(session).rule


def test_callback_without_a_sign_in_in_flight_is_refused(client, session):
    assert client.get("/sign-in/sso/callback?state=abc&code=def").status_code == 400
    assert client.get("/sign-in/sso/callback").status_code == 400
    assert client.get("/sign-in/sso/callback?state=" + "a" * 500).status_code == 400


def test_unknown_provider_is_404(client, session):
    assert client.post("/sign-in/sso/nope").status_code == 404
