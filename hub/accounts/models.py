"""Areas, agencies, users, and what authenticates them (sessions, API tokens)."""

from __future__ import annotations

from datetime import datetime

from flask_login import UserMixin
from sqlalchemy import ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.extensions import db
from hub.timeutil import UTCDateTime, utcnow


class Area(db.Model):
    """A police area running a STAC (London, Hampshire...), each with its own policy."""

    __tablename__ = "areas"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  #: policy file name
    name: Mapped[str] = mapped_column(String(120))


class Agency(db.Model):
    """A partner organisation, or the hub's own staff.

    The policy speaks of its ``kind``, so a new agency gets what its kind gets the moment
    it exists; ``code`` names this one agency, on case teams, in the audit log and the API.
    """

    __tablename__ = "agencies"
    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)  #: lower-case, digits, hyphens
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(32))  #: a kind of agency in policies/roles.yaml
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))  #: None: every area
    active: Mapped[bool] = mapped_column(default=True)  #: suspended agencies sign nobody in

    area: Mapped[Area | None] = relationship(lazy="joined")

    def serves(self, area: Area) -> bool:
        """An agency with an area works there only: its staff join no team elsewhere."""
        return self.area_id is None or self.area_id == area.id


class User(UserMixin, db.Model):
    __tablename__ = "users"
    # One provider cannot speak for another's users: identity is the (issuer, subject) pair.
    __table_args__ = (UniqueConstraint("oidc_issuer", "oidc_subject",
                                       name="uq_users_oidc_identity"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(120))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    role: Mapped[str] = mapped_column(String(32))  #: a role the policy defines
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))
    password_hash: Mapped[str | None] = mapped_column(String(255))  #: argon2id, PHC string
    totp_secret_ct: Mapped[str | None] = mapped_column(String(255))  #: encrypted TOTP seed
    totp_last_step: Mapped[int | None]  #: last accepted TOTP time step (codes are single-use)
    active: Mapped[bool] = mapped_column(default=True)
    is_demo: Mapped[bool] = mapped_column(default=False)  #: demo password, demo mode only
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    deactivated_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    oidc_issuer: Mapped[str | None] = mapped_column(String(255))  #: exact `iss` of the provider
    oidc_subject: Mapped[str | None] = mapped_column(String(255))  #: `sub` at that provider
    #: Set when an administrator issued a temporary password (a new user, or a reset): the
    #: next sign-in must choose a password before anything else.
    must_change_password: Mapped[bool] = mapped_column(default=False)
    #: When that temporary password stops working (ASVS 6.4.1: short-lived).
    temporary_password_expires_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    agency: Mapped[Agency] = relationship(lazy="joined")
    area: Mapped[Area | None] = relationship(lazy="joined")

    # Flask-Login stores the server-side session token, not the user id, so that revoking
    # the session row signs the browser out at once.
    session_token = None

    def get_id(self) -> str | None:
        return self.session_token

    @property
    def is_active(self) -> bool:
        return self.active and self.agency.active

    @property
    def mfa_required(self) -> bool:
        return not self.is_demo

    @property
    def totp_enrolled(self) -> bool:
        """Enrolment ends when the first code is accepted; a seed alone (enrolment begun
        and abandoned) is not enough, so the user is sent back to enrolment."""
        return self.totp_secret_ct is not None and self.totp_last_step is not None


class UserSession(db.Model):
    """A signed-in browser. Logout, deactivation and timeouts end it server-side."""

    __tablename__ = "user_sessions"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)  #: SHA-256 of the token
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    last_seen_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    mfa_passed: Mapped[bool] = mapped_column(default=False)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")


class ApiToken(db.Model):
    """A bearer token for the JSON API; only its hash is stored."""

    __tablename__ = "api_tokens"
    id: Mapped[int] = mapped_column(primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")


class LoginThrottle(db.Model):
    """Failed sign-ins per username, known or not, so throttling reveals no usernames."""

    __tablename__ = "login_throttle"
    username_key: Mapped[str] = mapped_column(String(64), primary_key=True)  #: SHA-256
    failures: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None] = mapped_column(UTCDateTime)
