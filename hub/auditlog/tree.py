"""The audit Merkle tree in the database: leaves, perfect-subtree nodes, checkpoints.

Every row is written once by the sequencer and never changes (migration 0003 makes the
database refuse UPDATE and DELETE). ``DbNodeStore`` is the audit package's ``NodeStore``
over ``audit_nodes``, so roots and proofs read only the O(log n) nodes they need.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Integer,
    LargeBinary,
    SmallInteger,
    Text,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from audit import NodeKey
from hub.extensions import db
from hub.timeutil import UTCDateTime

Big = BigInteger().with_variant(Integer(), "sqlite")

# The columns of an audit event that its leaf hash covers, in one list: the sequencer,
# `hub audit verify` and `hub audit export` all build the hashed dict from it.
EVENT_FIELDS = ("seq", "at", "request_id", "user_id", "username", "agency", "role", "action",
                "outcome", "case_id", "subject_ids", "classes", "purpose", "grant_id", "rule",
                "policy_digest", "client_addr", "user_agent", "details")


class AuditLeaf(db.Model):
    """Leaf ``leaf_index`` of the tree is the event ``seq``, hashed to ``leaf_hash``."""

    __tablename__ = "audit_leaves"
    leaf_index: Mapped[int] = mapped_column(Big, primary_key=True, autoincrement=False)
    seq: Mapped[int] = mapped_column(Big, unique=True)  #: one leaf per event, ever
    leaf_hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditNode(db.Model):
    """Root hash of the perfect subtree over leaves [i * 2**level, (i + 1) * 2**level)."""

    __tablename__ = "audit_nodes"
    level: Mapped[int] = mapped_column(SmallInteger, primary_key=True)
    node_index: Mapped[int] = mapped_column(Big, primary_key=True, autoincrement=False)
    hash: Mapped[bytes] = mapped_column(LargeBinary(32))


class AuditCheckpoint(db.Model):
    """A signed commitment to the first ``tree_size`` leaves (C2SP signed note)."""

    __tablename__ = "audit_checkpoints"
    tree_size: Mapped[int] = mapped_column(Big, primary_key=True, autoincrement=False)
    root_hash: Mapped[bytes] = mapped_column(LargeBinary(32))
    note: Mapped[str] = mapped_column(Text)  #: the signed note, byte for byte
    signed_at: Mapped[datetime] = mapped_column(UTCDateTime)


def event_dict(event: Any) -> dict[str, Any]:
    """The event as the leaf hash, the verifier and the export see it.

    ``event`` is an ``AuditEvent`` or a result row with the same column names. Times
    become fixed-width UTC text, so both databases produce the same bytes.
    """
    out = {name: getattr(event, name) for name in EVENT_FIELDS}
    out["at"] = format_time(out["at"])
    return out


def format_time(at: datetime) -> str:
    if at.tzinfo is None:  # SQLite returns naive UTC through plain Core selects
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def b64(raw: bytes) -> str:
    return base64.b64encode(bytes(raw)).decode()


class DbNodeStore:
    """``audit.NodeStore`` over ``audit_nodes``, inside the caller's transaction."""

    def __init__(self, session=None) -> None:
        self.session = session if session is not None else db.session

    def get_nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        wanted = list(keys)
        if not wanted:
            return {}
        rows = self.session.connection().exec_driver_sql(_nodes_sql(wanted))
        return {(level, index): bytes(digest) for level, index, digest in rows}

    def put_nodes(self, nodes: Mapping[NodeKey, bytes]) -> None:
        if nodes:  # one executemany: the batch's nodes in a single round trip
            self.session.connection().execute(AuditNode.__table__.insert(), [
                {"level": level, "node_index": index, "hash": digest}
                for (level, index), digest in nodes.items()])


def _nodes_sql(keys: list[NodeKey]) -> str:
    """One primary-key probe per (level, index), as plain SQL text.

    Every proof asks for a different set of keys, so a SQLAlchemy statement would be
    compiled afresh each time (milliseconds); the keys are ints, forced so by int(),
    so writing them into the text is safe. A row-value IN list would make SQLite scan.
    """
    by_level: dict[int, list[str]] = {}
    for level, index in keys:
        by_level.setdefault(int(level), []).append(str(int(index)))
    match = " OR ".join(f"(level = {level} AND node_index IN ({', '.join(indexes)}))"
                        for level, indexes in by_level.items())
    return f"SELECT level, node_index, hash FROM audit_nodes WHERE {match}"  # noqa: S608  # nosec B608


def tree_size(session=None) -> int:
    """Leaves integrated so far (the primary key index answers this in O(log n))."""
    session = session if session is not None else db.session
    last = session.scalar(select(func.max(AuditLeaf.leaf_index)))
    return 0 if last is None else last + 1


def latest_checkpoint(session=None) -> AuditCheckpoint | None:
    session = session if session is not None else db.session
    return session.scalar(
        select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1))
