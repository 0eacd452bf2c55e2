"""Talking to an OpenID provider: discovery, keys, the code exchange, ID token checks.

Nothing here trusts the provider's word beyond what OpenID Connect Core section 3.1.3.7
lets it say: the ID token's signature is always verified against the provider's published
keys with an asymmetric algorithm (never ``none``, never a shared-secret HMAC), the issuer
must equal the configured issuer exactly, the audience must contain our client id, and the
nonce must be the one this sign-in sent.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from urllib.parse import urlsplit

import requests
from authlib.integrations.requests_client import OAuth2Session, OAuthError
from authlib.oauth2.rfc7636 import create_s256_code_challenge
from flask import current_app
from joserfc import jwt
from joserfc.errors import JoseError
from joserfc.jwk import KeySet

# Asymmetric only: an HMAC algorithm would let anyone holding the client secret forge tokens.
ALGORITHMS = ("RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA")
TIMEOUT = 5  # seconds; a slow provider must not hold a worker for long
CACHE_SECONDS = 300
LEEWAY = 60  # seconds of clock skew tolerated on exp and iat
LOOPBACK = {"localhost", "127.0.0.1", "::1"}


class OidcError(Exception):
    """The provider's answer cannot be trusted; ``reason`` goes to the audit log."""

    def __init__(self, reason: str, *, unavailable: bool = False):
        super().__init__(reason)
        self.reason, self.unavailable = reason, unavailable


@dataclass(frozen=True)
class Metadata:
    issuer: str
    authorization_endpoint: str
    token_endpoint: str
    jwks_uri: str


_cache: dict[str, tuple[float, object]] = {}  # a cache only: the database is the truth


def check_url(url: str) -> None:
    """HTTPS only, except a loopback provider outside production (the tests' provider)."""
    parts = urlsplit(url)
    loopback_ok = (parts.scheme == "http" and parts.hostname in LOOPBACK
                   and current_app.config["HUB_ENV"] != "production")
    if not (parts.scheme == "https" or loopback_ok) or not parts.hostname:
        raise OidcError(f"refusing a non-HTTPS provider URL {url[:100]!r}")


def _get_json(url: str) -> dict:
    check_url(url)
    try:
        response = requests.get(url, timeout=TIMEOUT, allow_redirects=False)
        response.raise_for_status()
        data = response.json()
    except (requests.RequestException, ValueError) as exc:
        raise OidcError(f"provider unreachable: {type(exc).__name__}", unavailable=True) from None
    if not isinstance(data, dict):
        raise OidcError("provider answered with something other than a JSON object")
    return data


def _cached(key: str, load, *, refresh: bool = False):
    hit = _cache.get(key)
    if hit and not refresh and hit[0] > time.monotonic():
        return hit[1]
    value = load()
    _cache[key] = (time.monotonic() + CACHE_SECONDS, value)
    return value


def metadata(issuer: str) -> Metadata:
    return _cached("meta:" + issuer, lambda: _discover(issuer))


def _discover(issuer: str) -> Metadata:
    data = _get_json(issuer.rstrip("/") + "/.well-known/openid-configuration")
    if data.get("issuer") != issuer:  # OIDC Discovery 4.3: must be identical
        raise OidcError("discovery document names a different issuer")
    try:
        meta = Metadata(issuer, data["authorization_endpoint"], data["token_endpoint"],
                        data["jwks_uri"])
    except KeyError as exc:
        raise OidcError(f"discovery document lacks {exc.args[0]}") from None
    for url in (meta.authorization_endpoint, meta.token_endpoint, meta.jwks_uri):
        check_url(url)
    return meta


def keys(meta: Metadata, *, refresh: bool = False) -> KeySet:
    def load():
        try:
            return KeySet.import_key_set(_get_json(meta.jwks_uri))
        except (JoseError, ValueError, TypeError):
            raise OidcError("the provider's key set cannot be read") from None
    return _cached("jwks:" + meta.jwks_uri, load, refresh=refresh)


def authorization_url(provider, meta: Metadata, *, redirect_uri: str, state: str,
                      nonce: str, code_verifier: str) -> str:
    session = OAuth2Session(provider.client_id, scope="openid profile email",
                            redirect_uri=redirect_uri, code_challenge_method="S256")
    extra = {"acr_values": " ".join(provider.acr_values)} if provider.acr_values else {}
    url, _state = session.create_authorization_url(
        meta.authorization_endpoint, state=state, nonce=nonce, code_verifier=code_verifier,
        **extra)
    return url


def exchange_code(provider, meta: Metadata, client_secret: str, *, code: str,
                  redirect_uri: str, code_verifier: str) -> str:
    """The ID token for ``code``, fetched from the provider's token endpoint directly."""
    session = OAuth2Session(provider.client_id, client_secret, redirect_uri=redirect_uri,
                            token_endpoint_auth_method="client_secret_basic")  # noqa: S106 -- a method name  # nosec B106
    try:
        token = session.fetch_token(meta.token_endpoint, code=code, code_verifier=code_verifier,
                                    timeout=TIMEOUT, allow_redirects=False)
    except requests.RequestException as exc:
        raise OidcError(f"token endpoint unreachable: {type(exc).__name__}",
                        unavailable=True) from None
    except (OAuthError, ValueError, KeyError) as exc:  # an error answer, or not JSON
        raise OidcError(f"token endpoint refused the code: {str(exc)[:120]}") from None
    id_token = token.get("id_token")
    if not isinstance(id_token, str) or len(id_token) > 16_384:
        raise OidcError("token response has no usable ID token")
    return id_token


def verify_id_token(provider, meta: Metadata, id_token: str, *, nonce_ok) -> dict:
    """Signature, then every claim that binds the token to this provider, client and sign-in.

    ``nonce_ok(nonce)`` says whether the nonce is the one this sign-in sent (the hub keeps
    only its hash)."""
    claims = _decode(meta, id_token)
    registry = jwt.JWTClaimsRegistry(
        now=int(time.time()), leeway=LEEWAY,
        iss={"essential": True, "value": provider.issuer},
        aud={"essential": True, "value": provider.client_id},
        sub={"essential": True}, exp={"essential": True}, iat={"essential": True},
        nonce={"essential": True})
    try:
        registry.validate(claims)
    except JoseError as exc:
        raise OidcError(f"ID token rejected: {exc.error}: {exc.description or ''}"[:180]) \
            from None
    _check_audience(claims, provider.client_id)
    if not isinstance(claims["nonce"], str) or not nonce_ok(claims["nonce"]):
        raise OidcError("nonce does not match this sign-in (replayed ID token)")
    if claims["iat"] > time.time() + LEEWAY:
        raise OidcError("ID token issued in the future")
    sub = claims["sub"]
    if not isinstance(sub, str) or not 0 < len(sub) <= 255:
        raise OidcError("ID token subject is missing or too long")
    return claims


def _decode(meta: Metadata, id_token: str) -> dict:
    for refresh in (False, True):  # a key we have not seen yet: the provider rotated
        try:
            return jwt.decode(id_token, keys(meta, refresh=refresh), algorithms=ALGORITHMS).claims
        except (ValueError, JoseError) as exc:
            if refresh or "key" not in str(exc).lower():
                raise OidcError(f"ID token signature rejected: {type(exc).__name__}") from None
    raise AssertionError("unreachable")


def _check_audience(claims: dict, client_id: str) -> None:
    aud = claims["aud"]
    audiences = aud if isinstance(aud, list) else [aud]
    if len(audiences) > 1 and claims.get("azp") != client_id:  # Core 3.1.3.7 items 4 and 5
        raise OidcError("ID token has several audiences and another authorized party")


def assurance_met(provider, claims: dict) -> bool:
    """The sign-in is as strong as the agency requires (acr any-of, amr all-of).

    A provider configured to promise nothing assures nothing: its users pass the hub's
    own second factor, rather than signing in on a password alone.
    """
    if not provider.acr_values and not provider.required_amr:
        return False
    if provider.acr_values and claims.get("acr") not in provider.acr_values:
        return False
    amr = claims.get("amr") if isinstance(claims.get("amr"), list) else []
    return all(method in amr for method in provider.required_amr)


def challenge(code_verifier: str) -> str:
    return create_s256_code_challenge(code_verifier)
