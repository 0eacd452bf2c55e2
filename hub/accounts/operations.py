"""Signing in and out, sessions and API tokens. Every outcome is audited."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from flask import current_app, has_request_context, request
from sqlalchemy import bindparam, select, update
from sqlalchemy.exc import IntegrityError

from hub.accounts import passwords, security
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
    token: str | None = None  #: the new session token, once a web second factor passes


@dataclass
class Throttle:
    """One failure counter and the number of failures it forgives before pausing."""

    row: LoginThrottle
    free: int


def _throttles(username: str) -> list[Throttle]:
    """This username's counter from the caller's address, and across every address."""
    address = request.remote_addr if has_request_context() else None
    return [Throttle(_throttle_row(security.username_key(username, address or "")),
                     security.FREE_FAILURES),
            Throttle(_throttle_row(security.username_key(username)),
                     security.FREE_FAILURES_ALL_ADDRESSES)]


def _throttle_row(key: str) -> LoginThrottle:
    row = db.session.get(LoginThrottle, key)
    if row is None:
        try:
            with db.session.begin_nested():
                row = LoginThrottle(username_key=key, failures=0)
                db.session.add(row)
        except IntegrityError:  # a concurrent attempt made the row first: use theirs
            row = db.session.get(LoginThrottle, key)
    return row


def check_credentials(username: str, password: str, otp: str | None = None,
                      *, channel: str) -> SignIn:
    """Check a username, password and (for the API) TOTP code.

    The same answer and about the same time for unknown users and wrong passwords; repeated
    failures for any username, known or not, earn short, growing pauses.
    """
    now = utcnow()
    throttle = _throttles(username)
    if _locked(throttle, now):
        audit.record_now("auth:login", "denied", rule="throttled",
                         details={"channel": channel}, user=_known(username))
        return SignIn(throttled=True)
    user = _known(username)
    ok = _password_ok(user, password)
    if ok and channel == "api" and user.must_change_password:
        ok = False  # a temporary password opens the "choose a password" page, nothing else
    if ok and channel == "api" and user.mfa_required:
        ok = otp is not None and user.totp_enrolled and accept_totp(user, otp)
    if not ok:
        _failed(throttle, now, "auth:login", channel, user)
        return SignIn()
    needs_otp = user.mfa_required and channel == "web"
    if not needs_otp:  # with a code still to come, the password alone clears nothing
        _reset(throttle)
    return SignIn(user=user, needs_otp=needs_otp)


def check_code(row: UserSession, code: str) -> SignIn:
    """The web's second step: a TOTP code for a session that passed the password step.

    Wrong codes count against the same throttle as wrong passwords, so knowing a password
    does not buy unlimited guesses at the code. Success rotates the session token.
    """
    now, user = utcnow(), row.user
    throttle = _throttles(user.username)
    if _locked(throttle, now):
        audit.record_now("auth:mfa", "denied", rule="throttled", details={"channel": "web"},
                         user=user)
        return SignIn(throttled=True)
    if not accept_totp(user, code):
        _failed(throttle, now, "auth:mfa", "web", user)
        return SignIn()
    _reset(throttle)
    return SignIn(user=user, token=pass_mfa(row))


def _password_ok(user: User | None, password: str) -> bool:
    ok = security.check_password(user.password_hash if user else None, password)
    return ok and usable(user) and not _temporary_password_expired(user)


def _temporary_password_expired(user: User) -> bool:
    expires = user.temporary_password_expires_at
    return user.must_change_password and expires is not None and expires <= utcnow()


def usable(user: User) -> bool:
    """Active, and not a demo account outside demo mode (whose password is public)."""
    return user.is_active and (not user.is_demo or current_app.config["HUB_DEMO"])


def _locked(throttles: list[Throttle], now) -> bool:
    return any(t.row.locked_until is not None and t.row.locked_until > now for t in throttles)


def _reset(throttles: list[Throttle]) -> None:
    for t in throttles:
        t.row.failures, t.row.locked_until = 0, None


def _failed(throttles: list[Throttle], now, action: str, channel: str,
            user: User | None) -> None:
    for t in throttles:
        # Counted in SQL, not read-modify-write: parallel guesses must each count.
        db.session.execute(update(LoginThrottle)
                           .where(LoginThrottle.username_key == t.row.username_key)
                           .values(failures=LoginThrottle.failures + 1))
        db.session.refresh(t.row)
        t.row.locked_until = security.lock_after(t.row.failures, now, t.free)
    audit.record_now(action, "denied", rule="bad credentials", details={"channel": channel},
                     user=user)


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
    row = db.session.scalar(_LIVE_SESSION, {"token_hash": security.token_hash(token)})
    if row is None or not usable(row.user):
        return None
    now = utcnow()
    if _session_over(row, now):
        row.revoked_at = now
        db.session.commit()
        return None
    if (now - row.last_seen_at).total_seconds() > 30:
        row.last_seen_at = now
        db.session.commit()
    return row


# Hosts' clocks may differ by a little; a clock further behind than this is distrusted.
CLOCK_SKEW = timedelta(seconds=60)


def _session_over(row: UserSession, now) -> bool:
    """Idle, past its absolute lifetime, or seen "in the future": a clock that went back
    must not stretch a session, so it ends it."""
    config = current_app.config
    return (now - row.last_seen_at > timedelta(seconds=config["HUB_SESSION_IDLE"])
            or now - row.created_at > timedelta(seconds=config["HUB_SESSION_ABSOLUTE"])
            or now < row.last_seen_at - CLOCK_SKEW)


def pass_mfa(session: UserSession) -> str:
    """Mark the session as past MFA under a new token (the pre-MFA cookie stops working)."""
    token = security.new_token("s")
    session.token_hash = security.token_hash(token)
    session.mfa_passed = True
    audit.record("auth:mfa", details={"channel": "web"}, user=session.user)
    audit.commit()
    return token


def end_session(token: str, user: User | None = None, *, reason: str = "sign-out") -> None:
    """Revoke a browser session at once; audited as the session's user signing out."""
    row = db.session.scalar(select(UserSession).where(
        UserSession.token_hash == security.token_hash(token), UserSession.revoked_at.is_(None)))
    if row is None:
        return
    row.revoked_at = utcnow()
    audit.record("auth:logout", details={"channel": "web", "reason": reason},
                 user=user or row.user)
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
    row = db.session.scalar(_LIVE_TOKEN, {"token_hash": security.token_hash(token)})
    if row is None or row.expires_at <= utcnow() or not usable(row.user):
        return None
    return row.user


# Every request asks one of these; built once, so that they are compiled once.
_LIVE_SESSION = select(UserSession).where(UserSession.token_hash == bindparam("token_hash"),
                                          UserSession.revoked_at.is_(None))
_LIVE_TOKEN = select(ApiToken).where(ApiToken.token_hash == bindparam("token_hash"),
                                     ApiToken.revoked_at.is_(None))


def deactivate(user: User, by: User) -> None:
    """Immediate effect: every session and token of the user stops working."""
    user.active, user.deactivated_at = False, utcnow()
    revoke_credentials(user)
    audit.record("admin:user:deactivate", details={"target_user_id": user.id}, user=by)
    audit.commit()


def revoke_credentials(user: User, *, keep_session_id: int | None = None) -> tuple[int, int]:
    """End every live session (but ``keep_session_id``) and API token of ``user`` now.
    Returns how many sessions and tokens ended. The caller audits and commits."""
    now = utcnow()
    sessions = (update(UserSession).where(UserSession.user_id == user.id,
                                          UserSession.revoked_at.is_(None))
                .values(revoked_at=now))
    if keep_session_id is not None:
        sessions = sessions.where(UserSession.id != keep_session_id)
    ended_sessions = db.session.execute(sessions).rowcount
    ended_tokens = db.session.execute(
        update(ApiToken).where(ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None))
        .values(revoked_at=now)).rowcount
    return ended_sessions, ended_tokens


# -- the credential lifecycle: temporary passwords, changing one's password ------------------
#: How long an administrator's temporary password works (ASVS 6.4.1: short-lived). A day
#: is enough to hand it over by phone or in person, and short enough to be of little use
#: to whoever finds it written down later.
TEMPORARY_PASSWORD_TTL = timedelta(hours=24)


class PasswordRefused(Exception):
    """A password change refused: the form field at fault, a sentence for it, a status."""

    def __init__(self, field: str, message: str, status: int = 400):
        super().__init__(message)
        self.field, self.message, self.status = field, message, status


def issue_temporary_password(user: User) -> str:
    """Give ``user`` a new one-time password, and remove their authenticator.

    The next sign-in must choose a password of the user's own before any other page, and
    then enrol an authenticator again: whoever lost the old one (or never had one) proves
    themselves with what the administrator handed over (ASVS 6.4.3, 6.4.4). A reset demo
    account stops being a demo account: it has a secret of its own now, so it gets the full
    second factor. The caller revokes sessions, audits and commits.
    """
    password = security.new_temporary_password()
    user.password_hash = security.hash_password(password)
    user.must_change_password = True
    user.temporary_password_expires_at = utcnow() + TEMPORARY_PASSWORD_TTL
    user.totp_secret_ct, user.totp_last_step = None, None
    user.is_demo = False
    return password


def change_password(user: User, current: str | None, new: str, *,
                    keep_session_id: int | None) -> None:
    """Set a password ``user`` chose, ending every other session and API token of theirs.

    ``current`` is the password the user says they have now (ASVS 6.2.3). Wrong guesses
    count against the sign-in throttle, so a stolen session cannot try passwords faster
    than the sign-in page allows. It is None only for the forced change after a temporary
    password, which the sign-in moments ago checked. Raises PasswordRefused.
    """
    forced = user.must_change_password
    # Sizes first, before anything is counted or written: an oversized password is refused
    # with nothing changed (and is never truncated, ASVS 6.2.8).
    if passwords.too_long(new):
        raise PasswordRefused("new_password", passwords.problem(new, user.username))
    if current is not None and passwords.too_long(current):
        raise PasswordRefused("current_password", "Your current password is not right")
    if current:
        _check_current_password(user, current)
    elif not forced or current is not None:
        raise PasswordRefused("current_password", "Enter your current password")
    problem = passwords.problem(new, user.username)
    if problem is None and forced and security.check_password(user.password_hash, new):
        problem = "Choose a password of your own, not the temporary one"
    if problem is not None:
        raise PasswordRefused("new_password", problem)
    user.password_hash = security.hash_password(new)
    user.must_change_password, user.temporary_password_expires_at = False, None
    sessions, tokens = revoke_credentials(user, keep_session_id=keep_session_id)
    audit.record("auth:password:change", details={
        "channel": "web", "forced": forced, "sessions_ended": sessions,
        "tokens_ended": tokens}, user=user)
    audit.commit()


def _check_current_password(user: User, current: str) -> None:
    now = utcnow()
    throttle = _throttles(user.username)
    if _locked(throttle, now):
        audit.record_now("auth:password:change", "denied", rule="throttled",
                         details={"channel": "web"}, user=user)
        raise PasswordRefused("current_password",
                              "Too many attempts. Wait a few minutes and try again", 429)
    if not security.check_password(user.password_hash, current):
        _failed(throttle, now, "auth:password:change", "web", user)
        raise PasswordRefused("current_password", "Your current password is not right")
    _reset(throttle)


# -- a user's own sessions and tokens ---------------------------------------------------------
def live_sessions(user: User) -> list[UserSession]:
    """The user's browser sessions that still work, most recently used first."""
    now = utcnow()
    rows = db.session.scalars(select(UserSession).where(
        UserSession.user_id == user.id, UserSession.revoked_at.is_(None))
        .order_by(UserSession.last_seen_at.desc(), UserSession.id.desc()))
    return [row for row in rows if not _session_over(row, now)]


def live_tokens(user: User) -> list[ApiToken]:
    """The user's API tokens that still work, newest first."""
    return list(db.session.scalars(select(ApiToken).where(
        ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None),
        ApiToken.expires_at > utcnow()).order_by(ApiToken.created_at.desc(),
                                                 ApiToken.id.desc())))


def end_own_session(user: User, session_id: int) -> UserSession | None:
    """End one of ``user``'s own sessions. Anyone else's, or one already ended, is "not
    found" (None): the id of another user's session reveals and changes nothing."""
    row = db.session.scalar(select(UserSession).where(
        UserSession.id == session_id, UserSession.user_id == user.id,
        UserSession.revoked_at.is_(None)))
    if row is None:
        audit.record_now("auth:session:end", "denied", rule="no such record",
                         details={"requested_id": session_id}, user=user)
        return None
    row.revoked_at = utcnow()
    audit.record("auth:session:end", details={"session_id": row.id, "channel": "web"},
                 user=user)
    audit.commit()
    return row


def end_own_token(user: User, token_id: int) -> ApiToken | None:
    """Revoke one of ``user``'s own API tokens; like ``end_own_session`` for the rest."""
    row = db.session.scalar(select(ApiToken).where(
        ApiToken.id == token_id, ApiToken.user_id == user.id, ApiToken.revoked_at.is_(None)))
    if row is None:
        audit.record_now("auth:token:revoke", "denied", rule="no such record",
                         details={"requested_id": token_id}, user=user)
        return None
    row.revoked_at = utcnow()
    audit.record("auth:token:revoke", details={"token_id": row.id, "channel": "web"},
                 user=user)
    audit.commit()
    return row
