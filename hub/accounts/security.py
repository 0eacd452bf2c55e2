"""Credentials: password hashes, TOTP, session and API tokens, sign-in throttling."""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from datetime import datetime, timedelta

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from cryptography.hazmat.primitives.hashes import SHA1
from cryptography.hazmat.primitives.twofactor import InvalidToken
from cryptography.hazmat.primitives.twofactor.totp import TOTP

# argon2id with OWASP's recommended minimum (m=19 MiB, t=2, p=1), as ASVS asks.
_hasher = PasswordHasher(time_cost=2, memory_cost=19 * 1024, parallelism=1)
# Verified when the username is unknown, so that the response takes as long either way.
_DUMMY_HASH = _hasher.hash(secrets.token_urlsafe(16))

DEMO_PASSWORD = "demo-password-2026"  # noqa: S105 -- documented demo credential, refused outside demo mode  # nosec B105
TOTP_STEP = 30
TOTP_DIGITS = 6


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def check_password(password_hash: str | None, password: str) -> bool:
    try:
        return _hasher.verify(password_hash or _DUMMY_HASH, password) and bool(password_hash)
    except (VerificationError, InvalidHashError):
        return False


def token_hash(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def new_token(prefix: str) -> str:
    return f"{prefix}_{secrets.token_urlsafe(32)}"


# No 0/o, 1/l/i: a temporary password is read out or copied by hand to its user.
_TEMPORARY_ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"


def new_temporary_password() -> str:
    """A one-time password an administrator hands to a user: 20 characters from a CSPRNG
    (about 99 bits), in groups of four so it can be read out and typed without mistakes."""
    chars = [secrets.choice(_TEMPORARY_ALPHABET) for _ in range(20)]
    return "-".join("".join(chars[i:i + 4]) for i in range(0, 20, 4))


# -- TOTP (RFC 6238), single-use ------------------------------------------------------------
def new_totp_seed() -> bytes:
    return secrets.token_bytes(20)


def _totp(seed: bytes) -> TOTP:
    # RFC 6238's default; authenticator apps expect it. HMAC-SHA1 is not broken as a MAC.
    return TOTP(seed, TOTP_DIGITS, SHA1(), TOTP_STEP, enforce_key_length=False)  # noqa: S303 -- RFC 6238 TOTP is HMAC-SHA1, which authenticator apps expect  # nosec B303


def totp_now(seed: bytes, at: float | None = None) -> str:
    return _totp(seed).generate(at if at is not None else time.time()).decode()


def totp_uri(seed: bytes, account: str) -> str:
    return _totp(seed).get_provisioning_uri(account, "STAC Hub")


def check_totp(seed: bytes, code: str, last_step: int | None,
               at: float | None = None) -> int | None:
    """The time step ``code`` belongs to (within one step of drift), if it is unused."""
    now = at if at is not None else time.time()
    if not (code.isascii() and code.isdigit() and len(code) == TOTP_DIGITS):
        return None
    for drift in (0, -1, 1):
        step = int(now // TOTP_STEP) + drift
        if last_step is not None and step <= last_step:
            continue  # a code is good once, and never one older than the last used
        try:
            _totp(seed).verify(code.encode(), step * TOTP_STEP)
            return step
        except InvalidToken:
            continue
    return None


# -- throttling ---------------------------------------------------------------------------
# Two counters per username. Guesses from one client address pause after FREE_FAILURES,
# so an attacker elsewhere cannot keep the real user out; guesses from every address
# together pause after NIST SP 800-63B's limit of 100, so spreading them over many
# addresses buys no more than that. Both pauses grow and are capped at MAX_LOCK.
FREE_FAILURES = 5
FREE_FAILURES_ALL_ADDRESSES = 100
MAX_LOCK = timedelta(minutes=15)


def username_key(username: str, address: str | None = None) -> str:
    """The throttle row's key: the username alone, or with one client address. (NUL never
    reaches here, the hub refuses it in input, so the two kinds cannot collide.)"""
    text = username.strip().lower() + ("" if address is None else f"\x00{address}")
    return hmac.new(b"login-throttle", text.encode(), "sha256").hexdigest()


def lock_after(failures: int, now: datetime, free: int = FREE_FAILURES) -> datetime | None:
    """Short, growing pauses after repeated failures; never more than 15 minutes."""
    if failures < free:
        return None
    return now + min(timedelta(seconds=30 * 2 ** min(failures - free, 16)), MAX_LOCK)
