"""Single sign-on: start a sign-in, finish it, and find or provision the user.

Every refusal is written to the audit log before the browser hears about it.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from hub.accounts.models import User
from hub.auditlog import writer as audit
from hub.extensions import db
from hub.oidc import client
from hub.oidc.models import IdentityProvider, OidcLogin
from hub.policy import current_policy
from hub.timeutil import utcnow

LOGIN_TTL = timedelta(minutes=10)
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._-]{0,40}$")


class SignInRefused(Exception):
    """The sign-in is refused; the reason is already in the audit log."""

    def __init__(self, reason: str, *, unavailable: bool = False):
        super().__init__(reason)
        self.reason, self.unavailable = reason, unavailable


@dataclass(frozen=True)
class Started:
    url: str
    state: str
    code_verifier: str


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def client_secret(provider: IdentityProvider) -> str:
    keyring = current_app.extensions["hub.keyring"]
    return keyring.open(provider.client_secret_ct, f"identity_providers.secret.{provider.slug}")


def seal_secret(provider: IdentityProvider, secret: str) -> None:
    keyring = current_app.extensions["hub.keyring"]
    provider.client_secret_ct = keyring.seal(secret, f"identity_providers.secret.{provider.slug}")


def active_providers() -> list[IdentityProvider]:
    return list(db.session.scalars(select(IdentityProvider).where(
        IdentityProvider.active.is_(True)).order_by(IdentityProvider.name)))


def provider_by_slug(slug: str) -> IdentityProvider | None:
    return db.session.scalar(select(IdentityProvider).where(
        IdentityProvider.slug == slug, IdentityProvider.active.is_(True)))


def start(provider: IdentityProvider, redirect_uri: str) -> Started:
    """A fresh state, nonce and PKCE verifier; the state and nonce are kept server-side."""
    try:
        meta = client.metadata(provider.issuer)
    except client.OidcError as exc:
        _refuse(provider, exc.reason, unavailable=exc.unavailable)
    state, nonce = secrets.token_urlsafe(32), secrets.token_urlsafe(32)
    verifier = secrets.token_urlsafe(64)
    db.session.add(OidcLogin(state_hash=_hash(state), nonce_hash=_hash(nonce),
                             provider_id=provider.id))
    db.session.commit()
    url = client.authorization_url(provider, meta, redirect_uri=redirect_uri, state=state,
                                   nonce=nonce, code_verifier=verifier)
    return Started(url, state, verifier)


def finish(*, state: str, expected_state: str | None, code: str, redirect_uri: str,
           code_verifier: str | None) -> tuple[User, bool]:
    """The signed-in user and whether the provider vouched for multi-factor sign-in."""
    login = _spend(state, expected_state)
    provider = login.provider
    if not provider.active:
        _refuse(provider, "provider is disabled")
    if not code:
        _refuse(provider, "the provider returned an error instead of a code")
    claims = _verified_claims(provider, code, redirect_uri, code_verifier, login)
    user = _user_for(provider, claims)
    return user, client.assurance_met(provider, claims)


def _spend(state: str, expected_state: str | None) -> OidcLogin:
    """The sign-in ``state`` belongs to, marked used at once: a state works only once."""
    if not expected_state or not hmac.compare_digest(state.encode(), expected_state.encode()):
        _refuse(None, "state does not match this browser's sign-in")
    login = db.session.scalar(select(OidcLogin).where(OidcLogin.state_hash == _hash(state)))
    if login is None or login.used_at is not None:
        _refuse(login.provider if login else None, "state unknown or already used (replay)")
    if utcnow() - login.created_at > LOGIN_TTL:
        _refuse(login.provider, "sign-in took too long")
    login.used_at = utcnow()
    db.session.commit()
    return login


def _verified_claims(provider, code, redirect_uri, code_verifier, login) -> dict:
    try:
        meta = client.metadata(provider.issuer)
        id_token = client.exchange_code(provider, meta, client_secret(provider), code=code,
                                        redirect_uri=redirect_uri,
                                        code_verifier=code_verifier or "")
        claims = client.verify_id_token(
            provider, meta, id_token,
            nonce_ok=lambda nonce: hmac.compare_digest(_hash(nonce), login.nonce_hash))
    except client.OidcError as exc:
        _refuse(provider, exc.reason, unavailable=exc.unavailable)
    return claims


def _user_for(provider: IdentityProvider, claims: dict) -> User:
    role = _mapped_role(provider, claims)
    user = db.session.scalar(select(User).where(User.oidc_issuer == provider.issuer,
                                                User.oidc_subject == claims["sub"]))
    if user is None:
        return _provision(provider, claims, role)
    if not user.is_active:
        _refuse(provider, "account is deactivated", user=user)
    if user.role != role:  # the agency's directory is the truth about someone's job
        audit.record("auth:oidc:role-change", details={
            "target_user_id": user.id, "from": user.role, "to": role}, user=user)
        user.role = role
    user.display_name = _display_name(claims, user.username)
    return user


def _mapped_role(provider: IdentityProvider, claims: dict) -> str:
    value = claims.get(provider.role_claim)
    values = value if isinstance(value, list) else [value]
    roles = {provider.role_map.get(v) for v in values if isinstance(v, str)} - {None}
    known = {r for r in roles if current_policy().is_known_role(provider.agency.kind, r)}
    if len(known) != 1:  # none, or an ambiguous choice: refuse rather than guess
        _refuse(provider, f"claim {provider.role_claim!r} maps to no single known role",
                details={"claim_values": [str(v)[:64] for v in values][:5]})
    return known.pop()


def _provision(provider: IdentityProvider, claims: dict, role: str) -> User:
    username = _new_username(provider, claims)
    user = User(username=username, display_name=_display_name(claims, username),
                agency_id=provider.agency_id, role=role, area_id=provider.area_id,
                oidc_issuer=provider.issuer, oidc_subject=claims["sub"], is_demo=False)
    db.session.add(user)
    db.session.flush()
    audit.record("auth:oidc:provision", details={"target_user_id": user.id,
                                                 "provider": provider.slug, "role": role},
                 user=user)
    return user


def _new_username(provider: IdentityProvider, claims: dict) -> str:
    preferred = str(claims.get("preferred_username") or "").strip().lower()
    digest = _hash(f"{provider.issuer}\n{claims['sub']}")[:12]
    candidates = [f"{provider.slug}.{preferred}"] if _USERNAME.match(preferred) else []
    for name in [*candidates, f"{provider.slug}.{digest}"]:
        if len(name) <= 64 and not db.session.scalar(select(User.id).where(User.username == name)):
            return name
    return f"{provider.slug}.{digest}.{secrets.token_hex(4)}"


def _display_name(claims: dict, fallback: str) -> str:
    name = claims.get("name")
    return name.strip()[:120] if isinstance(name, str) and name.strip() else fallback


def _refuse(provider: IdentityProvider | None, reason: str, *, unavailable: bool = False,
            user: User | None = None, details: dict | None = None):
    db.session.rollback()
    audit.record_now("auth:oidc", "denied", rule=reason[:200], user=user, details={
        "provider": provider.slug if provider else None, **(details or {})})
    raise SignInRefused(reason, unavailable=unavailable)
