"""The case record: cases, the people in them, the case team, and versioned entries."""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Any

from flask import current_app
from sqlalchemy import (
    JSON,
    Boolean,
    CheckConstraint,
    Date,
    ForeignKey,
    LargeBinary,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from hub import crypto
from hub.accounts.models import Agency, Area, User
from hub.extensions import db
from hub.timeutil import UTCDateTime, utcnow
from hub.vocabulary import (
    CASE_STATUSES,
    ENTRY_KINDS,
    PARTIES,
    REFERRAL_DECISIONS,
    REFERRAL_SOURCES,
    RELATIONSHIPS,
    RISK_LEVELS,
)


class DataKey(db.Model):
    """A record's data key, wrapped under the master key. Erasure sets ``wrapped`` to NULL."""

    __tablename__ = "data_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    wrapped: Mapped[bytes | None] = mapped_column(LargeBinary)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    destroyed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    @classmethod
    def new(cls) -> DataKey:
        return cls(wrapped=current_app.extensions["hub.keyring"].new_wrapped_key())

    def plain(self) -> bytes:
        """The key in the clear, unwrapped once per loaded row: a row lives as long as its
        request's session, and erasure (``wrapped`` set to NULL) is seen at once."""
        wrapped, plain = self.__dict__.get("_unwrapped", (None, None))
        if plain is None or wrapped is not self.wrapped:
            plain = current_app.extensions["hub.keyring"].unwrap(self.wrapped)
            self.__dict__["_unwrapped"] = (self.wrapped, plain)
        return plain


class Encrypted:
    """Mixin for models whose ``*_ct`` columns are encrypted under their ``data_key``."""

    def _context(self, field: str) -> str:
        return f"{self.__tablename__}.{field}.{self.data_key_id}"  # type: ignore[attr-defined]

    def get_secret(self, field: str) -> str | None:
        token = getattr(self, f"{field}_ct")
        if token is None:
            return None
        return crypto.decrypt(self.data_key.plain(), token, self._context(field))

    def set_secret(self, field: str, value: str | None) -> None:
        token = None
        if value is not None:
            if self.data_key_id is None:  # type: ignore[attr-defined]
                db.session.flush()  # the key id is part of the ciphertext's context
            token = crypto.encrypt(self.data_key.plain(), value, self._context(field))
        setattr(self, f"{field}_ct", token)


class Case(db.Model):
    """A STAC referral."""

    __tablename__ = "cases"
    id: Mapped[int] = mapped_column(primary_key=True)
    reference: Mapped[str] = mapped_column(String(32), unique=True)  #: e.g. STAC-LDN-2026-0001
    status: Mapped[str] = mapped_column(String(16), default="referred")
    area_id: Mapped[int] = mapped_column(ForeignKey("areas.id"), index=True)
    risk_level: Mapped[str] = mapped_column(String(16), default="standard")
    summary: Mapped[str | None] = mapped_column(String(500))  #: case.core one-line summary
    referred_on: Mapped[date] = mapped_column(Date)
    accepted_on: Mapped[date | None] = mapped_column(Date)
    closed_on: Mapped[date | None] = mapped_column(Date)
    next_review_on: Mapped[date | None] = mapped_column(Date)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    data_key_id: Mapped[int] = mapped_column(ForeignKey("data_keys.id"))
    version: Mapped[int] = mapped_column(default=1)  #: optimistic lock for edits

    area: Mapped[Area] = relationship(lazy="joined")
    data_key: Mapped[DataKey] = relationship()
    parties: Mapped[list[CaseParty]] = relationship(back_populates="case", order_by="CaseParty.id")
    members: Mapped[list[Membership]] = relationship(back_populates="case",
                                                     order_by="Membership.id")

    __table_args__ = (
        CheckConstraint(f"status IN {CASE_STATUSES}", name="status"),
        CheckConstraint(f"risk_level IN {RISK_LEVELS}", name="risk_level"),
    )

    def people(self, party: str) -> list[Person]:
        return [p.person for p in self.parties if p.party == party]


#: A person's details encrypted at rest; a victim's are her location (victim.location),
#: safe ways to contact her ("no voicemail", "text only after 6pm") among them.
ENCRYPTED_FIELDS = ("address", "phone", "email", "workplace", "safe_contact")


class Person(Encrypted, db.Model):
    """A perpetrator or victim. Location fields are encrypted under the person's own key."""

    __tablename__ = "people"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(200))  #: NULL once erased
    date_of_birth: Mapped[date | None] = mapped_column(Date)
    aliases: Mapped[list[str]] = mapped_column(JSON, default=list)
    #: handles, profile addresses: all that may be known of an anonymous online stalker
    online_identifiers: Mapped[list[str]] = mapped_column(JSON, default=list)
    pnc_id: Mapped[str | None] = mapped_column(String(20))  #: Police National Computer id
    nhs_number: Mapped[str | None] = mapped_column(String(10))
    data_key_id: Mapped[int] = mapped_column(ForeignKey("data_keys.id"))
    address_ct: Mapped[str | None] = mapped_column(String(2000))
    phone_ct: Mapped[str | None] = mapped_column(String(500))
    email_ct: Mapped[str | None] = mapped_column(String(1000))
    workplace_ct: Mapped[str | None] = mapped_column(String(2000))
    safe_contact_ct: Mapped[str | None] = mapped_column(String(2000))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    erased_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    data_key: Mapped[DataKey] = relationship()

    def detail(self, name: str):
        """One detail by name, decrypted if it is one of the encrypted ones."""
        return self.get_secret(name) if name in ENCRYPTED_FIELDS else getattr(self, name)

    def set_detail(self, name: str, value) -> None:
        if name in ENCRYPTED_FIELDS:
            self.set_secret(name, value)
        else:
            setattr(self, name, value)


class CaseParty(db.Model):
    """A person's part in a case: the perpetrator or a victim."""

    __tablename__ = "case_parties"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    party: Mapped[str] = mapped_column(String(16))

    case: Mapped[Case] = relationship(back_populates="parties")
    person: Mapped[Person] = relationship(lazy="joined")

    __table_args__ = (
        UniqueConstraint("case_id", "person_id", name="uq_case_parties_case_person"),
        CheckConstraint(f"party IN {PARTIES}", name="party"),
    )


class Membership(db.Model):
    """A named user, or a whole agency, on a case team. Removal keeps the row."""

    __tablename__ = "case_members"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    agency_id: Mapped[int | None] = mapped_column(ForeignKey("agencies.id"), index=True)
    added_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    added_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    removed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    removed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    case: Mapped[Case] = relationship(back_populates="members")
    user: Mapped[User | None] = relationship(foreign_keys=[user_id], lazy="joined")
    agency: Mapped[Agency | None] = relationship(lazy="joined")
    added_by: Mapped[User] = relationship(foreign_keys=[added_by_id])

    __table_args__ = (
        CheckConstraint("(user_id IS NULL) <> (agency_id IS NULL)", name="user_or_agency"),
    )


class Entry(db.Model):
    """A note, assessment, order, intervention... Content lives in its versions."""

    __tablename__ = "entries"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    info_class: Mapped[str] = mapped_column(String(32), index=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    author_agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    restricted_to: Mapped[list[str] | None] = mapped_column(JSON)  #: agency codes, or NULL
    subject_person_id: Mapped[int | None] = mapped_column(ForeignKey("people.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    version: Mapped[int] = mapped_column(default=1)  #: the current version's number

    author: Mapped[User] = relationship(lazy="joined")
    author_agency: Mapped[Agency] = relationship(lazy="joined")
    versions: Mapped[list[EntryVersion]] = relationship(
        back_populates="entry", order_by="EntryVersion.version")

    __table_args__ = (
        CheckConstraint(f"kind IN {ENTRY_KINDS}", name="kind"),
    )

    @property
    def current(self) -> EntryVersion:
        return self.versions[-1]


class EntryVersion(db.Model):
    """One version of an entry's content, encrypted under the case's data key."""

    __tablename__ = "entry_versions"
    id: Mapped[int] = mapped_column(primary_key=True)
    entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"), index=True)
    version: Mapped[int]
    content_ct: Mapped[str | None] = mapped_column(String(100_000))  #: encrypted JSON
    author_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    entry: Mapped[Entry] = relationship(back_populates="versions")
    author: Mapped[User] = relationship()  # not joined: no read of a case shows it

    __table_args__ = (UniqueConstraint("entry_id", "version", name="uq_entry_versions_version"),)

    def context(self, case: Case) -> str:
        return f"entry_versions.content.{self.entry_id}.{self.version}.{case.data_key_id}"

    def content(self, case: Case) -> dict[str, Any]:
        if self.content_ct is None:
            return {}
        return json.loads(crypto.decrypt(case.data_key.plain(), self.content_ct,
                                         self.context(case)))

    def seal(self, case: Case, content: dict[str, Any]) -> None:
        self.content_ct = crypto.encrypt(case.data_key.plain(), json.dumps(content),
                                         self.context(case))


class BreakGlassGrant(db.Model):
    """Time-limited emergency access to a case by someone not on its team."""

    __tablename__ = "break_glass_grants"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    reason: Mapped[str] = mapped_column(String(1000))  #: the stated justification
    granted_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(UTCDateTime)
    reviewed_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(lazy="joined")


# Which class each correctable detail of a person belongs to, by their part in the case.
PERSON_FIELDS = {
    "victim": {"name": "victim.identity", "date_of_birth": "victim.identity",
               "address": "victim.location", "phone": "victim.location",
               "email": "victim.location", "workplace": "victim.location",
               "safe_contact": "victim.location"},
    "perpetrator": {"name": "perpetrator.identity", "date_of_birth": "perpetrator.identity",
                    "aliases": "perpetrator.identity", "pnc_id": "perpetrator.identity",
                    "nhs_number": "perpetrator.identity", "address": "perpetrator.identity",
                    "online_identifiers": "perpetrator.identity"},
}


class PersonChange(db.Model):
    """One correction of a person's details in one class: what changed, when, by whom.

    The values it replaced are kept, encrypted under the person's own data key, so that
    erasure (which destroys that key) destroys them with the rest of the person's data.
    """

    __tablename__ = "person_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    info_class: Mapped[str] = mapped_column(String(32))  #: the class of every field changed
    fields: Mapped[list[str]] = mapped_column(JSON)  #: names of the fields, never values
    previous_ct: Mapped[str | None] = mapped_column(String(20_000))  #: encrypted JSON
    changed_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    person: Mapped[Person] = relationship()
    agency: Mapped[Agency] = relationship(lazy="joined")

    def _context(self) -> str:
        return f"person_changes.previous.{self.id}.{self.person.data_key_id}"

    def seal(self, previous: dict[str, Any]) -> None:
        """Keep the replaced values; the row must have its id (flushed) first."""
        self.previous_ct = crypto.encrypt(self.person.data_key.plain(),
                                          json.dumps(previous, default=str), self._context())

    def previous(self) -> dict[str, Any]:
        """The replaced values, or nothing once the person's data has been erased."""
        if self.previous_ct is None or self.person.data_key.wrapped is None:
            return {}
        return json.loads(crypto.decrypt(self.person.data_key.plain(), self.previous_ct,
                                         self._context()))


class Referral(db.Model):
    """How a case came to the STAC, and what screening decided (DOMAIN "Casework" 1, 2).

    Everything here is ``case.core``: who referred, when, the victim's consent, the
    relationship and behaviours. The victim's safe contact instructions are hers
    (``Person.safe_contact``, victim.location) and online identifiers are the perpetrator's
    (perpetrator.identity). Until screening accepts it, the case is ``referred``.
    """

    __tablename__ = "referrals"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), unique=True)
    source: Mapped[str] = mapped_column(String(16))
    referrer_name: Mapped[str | None] = mapped_column(String(200))  #: e.g. the Helpline caller
    entered_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))  #: who entered it
    referred_on: Mapped[date] = mapped_column(Date)
    crime_reference: Mapped[str | None] = mapped_column(String(40))
    consent_to_referral: Mapped[bool] = mapped_column(Boolean)
    consent_to_contact: Mapped[bool] = mapped_column(Boolean)
    #: to the perpetrator (``relationship`` in the API; the name is taken here by the ORM)
    relation: Mapped[str] = mapped_column("relationship", String(32))
    behaviours: Mapped[list[str]] = mapped_column(JSON, default=list)
    behaviours_other: Mapped[str | None] = mapped_column(String(200))
    perpetrator_named: Mapped[bool] = mapped_column(Boolean)
    decision: Mapped[str | None] = mapped_column(String(16))
    decision_reason: Mapped[str | None] = mapped_column(String(1000))
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    case: Mapped[Case] = relationship()
    agency: Mapped[Agency] = relationship(lazy="joined")
    decided_by: Mapped[User | None] = relationship(foreign_keys=[decided_by_id])

    __table_args__ = (
        CheckConstraint(f"source IN {REFERRAL_SOURCES}", name="source"),
        CheckConstraint(f"relationship IN {RELATIONSHIPS}", name="relationship"),
        CheckConstraint(f"decision IN {REFERRAL_DECISIONS}", name="decision"),
    )


class RiskAssessment(db.Model):
    """One completed risk assessment (DOMAIN "Casework" 3). Its score and levels are
    ``case.core``; the assessor's words live in entries, each in its own class: the
    override reason in a ``case.core`` entry, the answers in the tool's class
    (``victim.support`` or ``clinical``), and a clinical tool's shared summary in
    ``clinical.summary``. The case's risk level is the latest assessment's."""

    __tablename__ = "risk_assessments"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    tool: Mapped[str] = mapped_column(String(32))  #: a tool in policies/tools/
    score: Mapped[int | None]  #: None for a structured-judgement tool
    suggested_level: Mapped[str] = mapped_column(String(16))
    level: Mapped[str] = mapped_column(String(16))
    review_on: Mapped[date | None] = mapped_column(Date)
    assessor_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    assessed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    core_entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"))
    answers_entry_id: Mapped[int] = mapped_column(ForeignKey("entries.id"))
    summary_entry_id: Mapped[int | None] = mapped_column(ForeignKey("entries.id"))

    assessor: Mapped[User] = relationship(lazy="joined")
    agency: Mapped[Agency] = relationship(lazy="joined")

    __table_args__ = (
        CheckConstraint(f"suggested_level IN {RISK_LEVELS}", name="suggested_level"),
        CheckConstraint(f"level IN {RISK_LEVELS}", name="level"),
    )


class PersonKey(db.Model):
    """One identifier of a person in a case, as a keyed hash (hub.cases.matching): what
    "already known?" compares, across every case of an area, without decrypting anything.
    Rebuilt when a person's details change; deleted when they are erased."""

    __tablename__ = "person_keys"
    id: Mapped[int] = mapped_column(primary_key=True)
    person_id: Mapped[int] = mapped_column(ForeignKey("people.id"), index=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    party: Mapped[str] = mapped_column(String(16))
    kind: Mapped[str] = mapped_column(String(16))  #: pnc, nhs, name_dob, online, phone, email
    digest: Mapped[bytes] = mapped_column(LargeBinary(32), index=True)


class JoinRequest(db.Model):
    """A request to join a case that "already known?" found; its team decides."""

    __tablename__ = "join_requests"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)  #: to join
    from_case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"))  #: where it was found
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    requested_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)
    decision: Mapped[str | None] = mapped_column(String(16))  #: approve or refuse
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime)

    user: Mapped[User] = relationship(foreign_keys=[user_id], lazy="joined")

    __table_args__ = (
        CheckConstraint("decision IN ('approve', 'refuse')", name="decision"),
    )


class StatusChange(db.Model):
    """A case's status, each time it is set: when, by whom, and why when it closes
    (``case.core``). The first is the referral's."""

    __tablename__ = "status_changes"
    id: Mapped[int] = mapped_column(primary_key=True)
    case_id: Mapped[int] = mapped_column(ForeignKey("cases.id"), index=True)
    status: Mapped[str] = mapped_column(String(16))
    reason: Mapped[str | None] = mapped_column(String(1000))
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    agency_id: Mapped[int] = mapped_column(ForeignKey("agencies.id"))
    changed_at: Mapped[datetime] = mapped_column(UTCDateTime, default=utcnow)

    agency: Mapped[Agency] = relationship(lazy="joined")

    __table_args__ = (CheckConstraint(f"status IN {CASE_STATUSES}", name="status"),)
