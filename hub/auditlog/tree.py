"""The audit Merkle tree in the database: leaves, perfect-subtree nodes, checkpoints.

Every row is written once by the sequencer and never changes (migrations 0003 and 0008
make the database refuse UPDATE and DELETE). ``DbNodeStore`` is the audit package's
``NodeStore`` over ``audit_nodes``, so roots and proofs read only the O(log n) nodes they
need. This module also says what an event's leaf covers (``leaf_content``), for the
writer that hashes it, the sequencer and ``hub audit verify``/``export``.
"""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    DateTime,
    Integer,
    LargeBinary,
    SmallInteger,
    Text,
    func,
    select,
)
from sqlalchemy.orm import Mapped, mapped_column

from audit import NodeKey, RecordEncoder, canonical_bytes
from hub.extensions import db
from hub.timeutil import UTCDateTime

Big = BigInteger().with_variant(Integer(), "sqlite")

# The columns of an audit event that its leaf hash covers, in one list: the writer, the
# sequencer, `hub audit verify` and `hub audit export` all build the hashed dict from it.
LEAF_FIELDS = ("at", "request_id", "user_id", "username", "agency", "role", "action",
               "outcome", "case_id", "subject_ids", "classes", "purpose", "grant_id", "rule",
               "policy_digest", "client_addr", "user_agent", "details")
EVENT_FIELDS = ("seq", *LEAF_FIELDS)
"""An event's leaf covers ``LEAF_FIELDS`` when its row carries a ``leaf_hash`` (every event
the writer has written since migration 0008: it hashes the event before the database
gives it a seq), else ``EVENT_FIELDS``, seq included (events written before 0008, whose
leaves were signed that way, and rows inserted by anything but the writer, which the
sequencer hashes itself). Leaving seq out weakens nothing: the leaf index fixes the
event's place in the log, and the row's seq only names it. The stored hash is never
trusted: `hub audit verify` recomputes every leaf from the fields. An attacker who
clears or sets ``leaf_hash`` only changes which bytes verify rebuilds, and the two forms
can never rebuild the same bytes (one has a "seq" member, the other none)."""
JSON_FIELDS = ("subject_ids", "classes", "details")


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


class AuditSeqGap(db.Model):
    """Event seqs ``lo..hi`` the sequencer passed without seeing an event.

    On PostgreSQL a request can take seq 10 and commit after another committed 11; when
    the sequencer integrates 11, seq 10 is a gap: still in flight, or rolled back and gone
    for good. The sequencer reads only events above the newest integrated seq, plus
    events that have since appeared in a recorded gap, instead of anti-joining the
    whole log every run. Rows are only inserted; a filled gap simply finds its event
    integrated.
    """

    __tablename__ = "audit_seq_gaps"
    lo: Mapped[int] = mapped_column(Big, primary_key=True, autoincrement=False)
    hi: Mapped[int] = mapped_column(Big)


def event_dict(event: Any) -> dict[str, Any]:
    """The event with its seq, as the export and the no-personal-text check see it.

    ``event`` is an ``AuditEvent`` or a result row with the same column names. Times
    become fixed-width UTC text, so both databases produce the same bytes.
    """
    out = {name: getattr(event, name) for name in EVENT_FIELDS}
    out["at"] = format_time(out["at"])
    return out


def leaf_content(values: Mapping[str, Any], seq: int | None = None) -> dict[str, Any]:
    """The dict an event's leaf hashes, from its column values as Python objects.

    ``seq`` is given only for a leaf that covers it (a row without ``leaf_hash``).
    """
    content = {name: values[name] for name in LEAF_FIELDS}
    content["at"] = format_time(content["at"])
    if seq is not None:
        content["seq"] = seq
    return content


def format_time(at: datetime) -> str:
    if at.tzinfo is None:  # SQLite returns naive UTC through plain Core selects
        at = at.replace(tzinfo=UTC)
    return at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


# SQLAlchemy stores a SQLite DATETIME as exactly this text (and always with microseconds).
_SQLITE_TIME = re.compile(r"\d{4}-\d\d-\d\d \d\d:\d\d:\d\d\.\d{6}")
_LEAF = RecordEncoder(LEAF_FIELDS)
_LEAF_WITH_SEQ = RecordEncoder(EVENT_FIELDS)
READ_FIELDS = _LEAF.keys
"""The order ``RawEventReader`` takes an event's columns in: RFC 8785's member order."""
_SEQ_POSITION = _LEAF_WITH_SEQ.keys.index("seq")
_AT = READ_FIELDS.index("at")
_JSON_POSITIONS = frozenset(READ_FIELDS.index(name) for name in JSON_FIELDS)
_UNCACHED = frozenset({"request_id"})  # one value per event: remembering it gains nothing
_CACHE_LIMIT = 100_000  # distinct values remembered per reader
_UNSEEN = object()


class RawEventReader:
    """Leaf content, and its canonical bytes, from event columns as the driver gives them.

    ``hub audit verify`` reads a million rows with plain driver cursors, skipping
    SQLAlchemy's per-row type processing, which would cost more than the hashing. It must
    still see each value as the hub's own models read it: on SQLite the JSON columns are
    text and ``at`` is text in SQLAlchemy's storage format (converted here by moving
    characters, or by SQLAlchemy itself for any other text); psycopg already returns
    PostgreSQL's JSON as Python values and timestamps as datetimes.

    ``canonical`` gives the bytes a leaf hashes without building the event: most column
    values repeat from event to event (a username, an action, a JSON text), so each
    distinct value is canonicalised once and its bytes joined (``RecordEncoder``). It
    always equals ``canonical_bytes(content(...))``; tests/auditlog/test_leaf_hash.py
    holds it to that on generated rows, odd values included.
    """

    def __init__(self, dialect) -> None:
        self.sqlite = dialect.name == "sqlite"
        self._sqlite_time = (DateTime().dialect_impl(dialect).result_processor(dialect, None)
                             if self.sqlite else None)
        self._parsed: dict[Any, Any] = {}  # JSON text -> value (SQLite)
        self._known: dict[Any, bytes] = {}  # str or int column value -> canonical bytes
        self._known_json: dict[Any, bytes] = {}  # JSON text -> canonical bytes (SQLite)
        self._cached = [name not in _UNCACHED for name in READ_FIELDS]

    def content(self, values: Sequence[Any], seq: int | None) -> dict[str, Any]:
        """The dict the leaf hashes; ``values`` are the columns of ``READ_FIELDS`` in that
        order, and ``seq`` is given only for a leaf that covers it. JSON values may be
        shared between events (parsed once per distinct text): never mutate them."""
        values = list(values)
        if self.sqlite:
            values[_AT] = self._time_text(values[_AT])
            for position in _JSON_POSITIONS:
                values[position] = self._json(values[position])
        else:
            values[_AT] = format_time(values[_AT])
        content = dict(zip(READ_FIELDS, values, strict=True))
        if seq is not None:
            content["seq"] = seq
        return content

    def canonical(self, values: Sequence[Any], seq: int | None) -> bytes:
        """``canonical_bytes(self.content(values, seq))``, from remembered fragments.
        Raises what that would raise (CanonicalizationError for values RFC 8785 refuses)."""
        fragments = []
        known, cached = self._known, self._cached
        for position, value in enumerate(values):
            kind = type(value)
            if position == _AT:
                fragment = self._time_fragment(value)
            elif position in _JSON_POSITIONS:
                fragment = self._json_fragment(value)
            elif kind is str or kind is int:  # never bool: True == 1 must not share bytes
                fragment = known.get(value)
                if fragment is None:
                    fragment = canonical_bytes(value)
                    if cached[position] and len(known) < _CACHE_LIMIT:
                        known[value] = fragment
            elif value is None:
                fragment = b"null"
            else:
                fragment = canonical_bytes(value)
            fragments.append(fragment)
        if seq is None:
            return _LEAF.encode(fragments)
        fragments.insert(_SEQ_POSITION, canonical_bytes(seq))
        return _LEAF_WITH_SEQ.encode(fragments)

    def _json(self, text: Any) -> Any:
        if text is None:
            return None
        value = self._parsed.get(text, _UNSEEN)
        if value is _UNSEEN:
            value = json.loads(text)
            if len(self._parsed) < _CACHE_LIMIT:
                self._parsed[text] = value
        return value

    def _json_fragment(self, raw: Any) -> bytes:
        if not self.sqlite:  # psycopg has parsed it already
            return canonical_bytes(raw)
        if type(raw) is not str:
            return canonical_bytes(self._json(raw))
        fragment = self._known_json.get(raw)
        if fragment is None:
            fragment = canonical_bytes(json.loads(raw))
            if len(self._known_json) < _CACHE_LIMIT:
                self._known_json[raw] = fragment
        return fragment

    def _time_text(self, raw: Any) -> str:
        if type(raw) is str and _SQLITE_TIME.fullmatch(raw):
            return f"{raw[:10]}T{raw[11:]}Z"  # the same text format_time would give
        return format_time(self._sqlite_time(raw))

    def _time_fragment(self, raw: Any) -> bytes:
        text = self._time_text(raw) if self.sqlite else format_time(raw)
        return b'"' + text.encode() + b'"'  # digits, "-", ":", ".", "T", "Z": nothing to escape


def b64(raw: bytes) -> str:
    return base64.b64encode(bytes(raw)).decode()


class DbNodeStore:
    """``audit.NodeStore`` over ``audit_nodes``, inside the caller's transaction.

    Level 0 (the leaf hashes) is read from ``audit_leaves`` and never written here: the
    sequencer inserts each leaf row before it integrates the batch, and a second copy in
    audit_nodes would make every leaf cost two rows. (Logs integrated before migration
    0008 also hold level 0 in audit_nodes; those rows are the same hashes, unused.)
    """

    def __init__(self, session=None) -> None:
        self.session = session if session is not None else db.session

    def get_nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        wanted = list(keys)
        if not wanted:
            return {}
        rows = self.session.connection().exec_driver_sql(_nodes_sql(wanted))
        return {(level, index): bytes(digest) for level, index, digest in rows}

    def put_nodes(self, nodes: Mapping[NodeKey, bytes]) -> None:
        insert_rows(self.session, "audit_nodes", ("level", "node_index", "hash"),
                    [(level, index, digest) for (level, index), digest in nodes.items()
                     if level])


def insert_rows(session, table: str, columns: Sequence[str], rows: list[tuple]) -> None:
    """Insert many rows in the session's transaction, the fastest way the driver has.

    PostgreSQL: one COPY (a stream, not a statement per row). SQLite: one executemany
    of one prepared statement. ``table`` and ``columns`` are this module's own names.
    """
    if not rows:
        return
    connection = session.connection()
    names = ", ".join(columns)
    if connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(
                f"COPY {table} ({names}) FROM STDIN") as copy:  # -- our names  # nosec B608
            try:  # integers and bytes only: a few times faster than write_row
                text = "".join(_copy_lines(rows))
            except KeyError:  # another type somewhere: let psycopg format every row
                text = None
            if text is not None:
                copy.write(text)
            else:
                for row in rows:
                    copy.write_row(row)
        return
    marks = ", ".join("?" * len(columns))
    connection.exec_driver_sql(f"INSERT INTO {table} ({names}) VALUES ({marks})", rows)  # noqa: S608 -- our names  # nosec B608


_COPY_TEXT = {int: str, bytes: lambda raw: "\\\\x" + raw.hex(), type(None): lambda _: "\\N"}
"""COPY's text format for the only values the tree tables hold: integers, bytea in hex
(a backslash itself escaped, as COPY wants: ``\\\\x00ff``), NULL as ``\\N``."""


def _copy_lines(rows: list[tuple]):
    for row in rows:
        yield "\t".join([_COPY_TEXT[type(value)](value) for value in row]) + "\n"


def _nodes_sql(keys: list[NodeKey]) -> str:
    """One primary-key probe per (level, index), as plain SQL text.

    Every proof asks for a different set of keys, so a SQLAlchemy statement would be
    compiled afresh each time (milliseconds); the keys are ints, forced so by int(),
    so writing them into the text is safe. A row-value IN list would make SQLite scan.
    """
    by_level: dict[int, list[str]] = {}
    for level, index in keys:
        by_level.setdefault(int(level), []).append(str(int(index)))
    selects = []
    if 0 in by_level:
        selects.append("SELECT 0, leaf_index, leaf_hash FROM audit_leaves "  # noqa: S608 -- ints  # nosec B608
                       f"WHERE leaf_index IN ({', '.join(by_level.pop(0))})")
    if by_level:
        match = " OR ".join(f"(level = {level} AND node_index IN ({', '.join(indexes)}))"
                            for level, indexes in by_level.items())
        selects.append(f"SELECT level, node_index, hash FROM audit_nodes WHERE {match}")  # noqa: S608 -- ints  # nosec B608
    return " UNION ALL ".join(selects)


def tree_size(session=None) -> int:
    """Leaves integrated so far (the primary key index answers this in O(log n))."""
    session = session if session is not None else db.session
    last = session.scalar(select(func.max(AuditLeaf.leaf_index)))
    return 0 if last is None else last + 1


def latest_checkpoint(session=None) -> AuditCheckpoint | None:
    session = session if session is not None else db.session
    return session.scalar(
        select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size.desc()).limit(1))
