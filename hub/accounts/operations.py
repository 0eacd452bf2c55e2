"""Signing in and out, sessions and API tokens. Every outcome is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app
from sqlalchemy import select, update

from hub.accounts import security
from hub.accounts.models import ApiToken, LoginThrottle, User, UserSession
from hub.auditlog import writer as audit
from hub.extensions import db
from hub.timeutil import utcnow


@dataclass
class SignIn:
    """The outcome of checking credentials. ``user`` is set only on success."""

    user: User | None = None
    throttled: bool = False
    needs_otp: bool = False


def _throttle(username: str) -> LoginThrottle:
    key = security.username_key(username)
    row = db.session.get(LoginThrottle, key)
    if row is None:
        row = LoginThrottle(username_key=key, failures=0)
        db.session.add(row)
    return row


def check_credentials(username: str, password: str, otp: str | None = None,
                      *, channel: str) -> SignIn:
    """Check a username, password and (for the API) TOTP code.

    The same answer and about the same time for unknown users and wrong passwords; repeated
    failures for any username, known or not, earn short, growing pauses.
    """
    now = utcnow()
    throttle = _throttle(username)
    if throttle.locked_until is not None and throttle.locked_until > now:
        audit.record_now("auth:login", "denied", rule="throttled",
                         details={"channel": channel}, user=_known(username))
        return SignIn(throttled=True)
    user = _known(username)
    ok = security.check_password(user.password_hash if user else None, password)
    if ok and user.is_demo and not current_app.config["HUB_DEMO"]:
        ok = False  # the demo password is refused outside demo mode
    if ok and not user.is_active:
        ok = False
    if ok and channel == "api" and user.mfa_required:
        ok = otp is not None and accept_totp(user, otp)
    if not ok:
        throttle.failures += 1
        throttle.locked_until = security.lock_after(throttle.failures, now)
        audit.record_now("auth:login", "denied", rule="bad credentials",
                         details={"channel": channel}, user=user)
        return SignIn()
    throttle.failures, throttle.locked_until = 0, None
    return SignIn(user=user, needs_otp=user.mfa_required and channel == "web")


def _known(username: str) -> User | None:
    return db.session.scalar(select(User).where(User.username == username.strip()))


def accept_totp(user: User, code: str) -> bool:
    """Check a TOTP code and burn it, so it cannot be used twice."""
    if user.totp_secret_ct is None:
        return False
    step = security.check_totp(totp_seed(user), code.strip(), user.totp_last_step)
    if step is None:
        return False
    user.totp_last_step = step
    return True


def totp_seed(user: User) -> bytes:
    keyring = current_app.extensions["hub.keyring"]
    return bytes.fromhex(keyring.open(user.totp_secret_ct, f"users.totp.{user.id}"))


def set_totp_seed(user: User, seed: bytes) -> None:
    keyring = current_app.extensions["hub.keyring"]
    user.totp_secret_ct = keyring.seal(seed.hex(), f"users.totp.{user.id}")
    user.totp_last_step = None


# -- browser sessions -----------------------------------------------------------------------
def start_session(user: User, *, mfa_passed: bool) -> str:
    token = security.new_token("s")
    db.session.add(UserSession(token_hash=security.token_hash(token), user_id=user.id,
                               mfa_passed=mfa_passed))
    audit.record("auth:login", details={"channel": "web", "mfa": mfa_passed}, user=user)
    audit.commit()
    return token


def load_session(token: str) -> UserSession | None:
    """The live session for ``token``, enforcing the idle and absolute timeouts."""
    row = db.session.scalar(select(UserSession).where(
        UserSession.token_hash == security.token_hash(token), UserSession.revoked_at.is_(None)))
    if row is None or not row.user.is_active:
        return None
    now, config = utcnow(), current_app.config
    if (now - row.last_seen_at > timedelta(seconds=config["HUB_SESSION_IDLE"])
            or now - row.created_at > timedelta(seconds=config["HUB_SESSION_ABSOLUTE"])
            or now < row.created_at - timedelta(minutes=5)):  # the clock went back: distrust
        row.revoked_at = now
        db.session.commit()
        return None
    if (now - row.last_seen_at).total_seconds() > 30:
        row.last_seen_at = now
        db.session.commit()
    return row


def pass_mfa(session: UserSession) -> None:
    session.mfa_passed = True
    audit.record("auth:mfa", user=session.user)
    audit.commit()


def end_session(token: str, user: User) -> None:
    db.session.execute(update(UserSession).where(
        UserSession.token_hash == security.token_hash(token)).values(revoked_at=utcnow()))
    audit.record("auth:logout", user=user)
    audit.commit()


# -- API tokens -----------------------------------------------------------------------------
def issue_token(user: User) -> tuple[str, int]:
    ttl = current_app.config["HUB_TOKEN_TTL"]
    token = security.new_token("hub")
    db.session.add(ApiToken(token_hash=security.token_hash(token), user_id=user.id,
                            expires_at=utcnow() + timedelta(seconds=ttl)))
    audit.record("auth:token", details={"channel": "api"}, user=user)
    audit.commit()
    return token, ttl


def user_for_token(token: str) -> User | None:
    if not token or len(token) > 200:
        return None
    row = db.session.scalar(select(ApiToken).where(
        ApiToken.token_hash == security.token_hash(token), ApiToken.revoked_at.is_(None)))
    if row is None or row.expires_at <= utcnow() or not row.user.is_active:
        return None
    return row.user


def deactivate(user: User, by: User) -> None:
    """Immediate effect: every session and token of the user stops working."""
    now = utcnow()
    user.active, user.deactivated_at = False, now
    db.session.execute(update(UserSession).where(UserSession.user_id == user.id,
                                                 UserSession.revoked_at.is_(None))
                       .values(revoked_at=now))
    db.session.execute(update(ApiToken).where(ApiToken.user_id == user.id,
                                              ApiToken.revoked_at.is_(None))
                       .values(revoked_at=now))
    audit.record("admin:user:deactivate", details={"target_user_id": user.id}, user=by)
    audit.commit()
