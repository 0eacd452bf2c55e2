"""Identity providers (one per agency that signs its staff in itself) and pending sign-ins.

Provider configuration lives in the database, not in a file under instance/: several
processes on several hosts must agree on it, administrators change it through audited
operations without a deploy, and the client secret is sealed under the master key like
every other secret the database holds.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub.accounts.models import Agency, Area
from hub.extensions import db
from hub.timeutil import UTCDateTime, utcnow


class IdentityProvider(db.Model):
    """An agency's OpenID Connect provider and how its claims map onto hub roles."""

    __tablename__ = "identity_providers"
    id: Mapped[int] = mapped_column(primary_key=True)
    slug: Mapped[str] = mapped_column(String(32), unique=True)  #: in URLs and usernames
    name: Mapped[str] = mapped_column(String(120))  #: shown on the sign-in button
    issuer: Mapped[str] = mapped_column(String(255), unique=True)  #: exact `iss` expected
    client_id: Mapped[str] = mapped_column(String(255))
    client_secret_ct: Mapped[str] = mapped_column(Text)  #: sealed under the master key
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))  #: the agency it speaks for
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))  #: area of its users
    role_claim: Mapped[str] = mapped_column(String(64))  #: claim naming the user's job
    role_map: Mapped[dict] = mapped_column(JSON, default=dict)  #: claim value -> hub role
    acr_values: Mapped[list] = mapped_column(JSON, default=list)  #: any one is enough
    required_amr: Mapped[list] = mapped_column(JSON, default=list)  #: all are required
    active: Mapped[bool] = mapped_column(default=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)

    agency: Mapped[Agency] = relationship(lazy="joined")
    area: Mapped[Area | None] = relationship(lazy="joined")

    @property
    def requires_assurance(self) -> bool:
        """The provider vouches for multi-factor sign-in, so the hub asks for no code."""
        return bool(self.acr_values or self.required_amr)


class OidcLogin(db.Model):
    """A sign-in in flight. Single use: a replayed state or nonce finds it spent."""

    __tablename__ = "oidc_logins"
    id: Mapped[int] = mapped_column(primary_key=True)
    state_hash: Mapped[str] = mapped_column(String(64), unique=True)  #: SHA-256 of `state`
    nonce_hash: Mapped[str] = mapped_column(String(64))  #: SHA-256 of `nonce`
    provider_id: Mapped[int] = mapped_column(ForeignKey("identity_providers.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    used_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    provider: Mapped[IdentityProvider] = relationship(lazy="joined")
