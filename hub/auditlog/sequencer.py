"""The audit sequencer: integrates committed events into the Merkle tree, in batches.

Requests insert audit events concurrently and never wait for each other (the design of
Trillian and Tessera). The sequencer, under a database-wide lock, picks the events that
have no leaf yet, in ``seq`` order, gives them the next leaf indexes, stores their leaf
hashes and the perfect-subtree nodes they complete, and signs a checkpoint. It only
inserts: progress is the set of rows it has written, never a counter it updates.

The writer hashed each event's leaf when it inserted the event (``leaf_hash``), so a
batch reads two columns per event and never canonicalises; rows without a hash are
hashed here (see ``hub.auditlog.tree.LEAF_FIELDS``).

Which events have no leaf? Those above the newest integrated seq (an index range), and
those that appeared later in a gap the sequencer passed: a request that took ``seq`` 10
may commit after one that took 11, and must be integrated then, not skipped. Each batch
records the seqs it passed without seeing an event in ``audit_seq_gaps``, and looks in
those gaps again every batch, so no run anti-joins the whole log. Any number of
processes and hosts may run it; the lock makes one win at a time (PostgreSQL: a
transaction-scoped advisory lock; SQLite: the single writer lock).
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import bindparam, func, or_, select, text

from audit import (
    HASH_SIZE,
    CanonicalizationError,
    Checkpoint,
    append_leaves,
    event_leaf_hash,
    leaf_hash,
    load_signer,
    root_at,
    sign_checkpoint,
)
from hub import signals
from hub.auditlog.models import AuditEvent
from hub.auditlog.tree import (
    EVENT_FIELDS,
    AuditCheckpoint,
    AuditLeaf,
    AuditSeqGap,
    DbNodeStore,
    insert_rows,
    latest_checkpoint,
    leaf_content,
    tree_size,
)
from hub.extensions import db
from hub.timeutil import utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 10_000
LOCK_KEY = 0x53544143_00000001  # "STAC" + 1: the one advisory lock the sequencer takes
_EVENT_COLUMNS = [AuditEvent.__table__.c[name] for name in EVENT_FIELDS]

# Events above the newest integrated seq: none of them can have a leaf.
_NEW = text("SELECT seq, leaf_hash FROM audit_events WHERE seq > :after "
            "ORDER BY seq LIMIT :limit")


@dataclass(frozen=True)
class RunResult:
    integrated: int  #: events given a leaf by this run
    tree_size: int
    checkpoint: int | None  #: size of the checkpoint this run signed, if it signed one


def signer(app: Flask | None = None):
    """The checkpoint signer from HUB_AUDIT_SIGNING_KEY; its name is the log's origin."""
    app = app or current_app
    if "hub.audit_signer" not in app.extensions:
        app.extensions["hub.audit_signer"] = load_signer(
            app.config["HUB_AUDIT_SIGNING_KEY"], app.config["HUB_AUDIT_ORIGIN"])
    return app.extensions["hub.audit_signer"]


def run_once(batch_size: int = BATCH_SIZE) -> RunResult:
    """Integrate every event committed so far, then sign a checkpoint if the tree grew.

    Each batch is one transaction, so a crash loses at most the batch in progress, and
    the next run picks those events up again.
    """
    integrated, signed = 0, None
    while True:
        count, size, signed_now = _batch(batch_size)
        integrated += count
        signed = signed_now or signed
        if count < batch_size:
            return RunResult(integrated, size, signed)


def _batch(batch_size: int) -> tuple[int, int, int | None]:
    session = db.session
    try:
        _lock(session)
        size = tree_size(session)
        rows = _unsequenced(session, batch_size)  # (seq, leaf hash) pairs
        new_size = _integrate(session, size, rows)
        signed = _checkpoint(session, new_size) if len(rows) < batch_size else None
        session.commit()
    except BaseException:
        session.rollback()
        raise
    signals.batch_integrated.send(current_app._get_current_object())  # e.g. search totals
    return len(rows), new_size, signed


def _lock(session) -> None:
    """Serialise sequencers across processes and hosts until this transaction ends."""
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": LOCK_KEY})
        return
    # SQLite: a write, even of no rows, takes the database's single writer lock now, so
    # the reads below already see every commit made before it.
    session.execute(text("INSERT INTO audit_checkpoints SELECT * FROM audit_checkpoints "
                         "WHERE 0"))


def _unsequenced(session, limit: int) -> list[tuple[int, bytes]]:
    """Up to ``limit`` committed events without a leaf, late ones first, each in seq order,
    with their leaf hashes. Records the gaps passed on the way (see the module doc)."""
    newest = session.scalar(select(func.max(AuditLeaf.seq))) or 0
    late = _late(session, limit)
    new = session.execute(_NEW, {"after": newest, "limit": limit - len(late)}).all()
    _record_gaps(session, newest, [seq for seq, _ in new])
    return _with_hashes(session, [(seq, digest) for seq, digest in [*late, *new]])


def _late(session, limit: int) -> list:
    """Events that appeared in a recorded gap and have no leaf yet, in seq order.

    Done in steps (the gaps, the events in them, which of those have leaves) so that
    the cost follows the number of gaps, whatever plan the database would pick for one
    anti-join: without fresh statistics PostgreSQL would hash the whole log for it.
    """
    gaps = session.execute(select(AuditSeqGap.lo, AuditSeqGap.hi)).all()
    if not gaps:
        return []
    in_gaps = or_(*(AuditEvent.seq.between(lo, hi) for lo, hi in gaps))
    found = session.execute(select(AuditEvent.seq, AuditEvent.leaf_hash).where(in_gaps)
                            .order_by(AuditEvent.seq)).all()
    if not found:
        return []
    integrated = set(session.scalars(select(AuditLeaf.seq).where(
        AuditLeaf.seq.in_([seq for seq, _ in found]))))
    return [row for row in found if row.seq not in integrated][:limit]


def _record_gaps(session, newest: int, seqs: list[int]) -> None:
    """Remember every seq between ``newest`` and the last of ``seqs`` that has no event."""
    gaps, previous = [], newest
    for seq in seqs:
        if seq > previous + 1:
            gaps.append((previous + 1, seq - 1))
        previous = seq
    insert_rows(session, "audit_seq_gaps", ("lo", "hi"), gaps)


def _with_hashes(session, rows) -> list[tuple[int, bytes]]:
    """Each (seq, leaf hash). Rows the writer did not hash are hashed here, seq included
    (see ``LEAF_FIELDS``), as is a stored hash that is not 32 bytes long."""
    unhashed = [seq for seq, digest in rows if digest is None or len(digest) != HASH_SIZE]
    if not unhashed:
        return rows
    stmt = select(*_EVENT_COLUMNS, AuditEvent.leaf_hash).where(
        AuditEvent.seq.in_(bindparam("seqs", expanding=True)))
    hashed = {row.seq: _hash_row(row)
              for row in session.connection().execute(stmt, {"seqs": unhashed})}
    return [(seq, hashed.get(seq, digest)) for seq, digest in rows]


def _hash_row(row) -> bytes:
    """The leaf hash of one event row, the way `hub audit verify` will recompute it. An
    event that cannot be canonicalised gets a stand-in that verify reports, rather than
    stopping the sequencer (and the whole log) for good."""
    content = leaf_content(row._mapping, seq=row.seq if row.leaf_hash is None else None)
    try:
        return event_leaf_hash(content)
    except CanonicalizationError:
        log.error("audit event seq %s cannot be canonicalised; integrated as unreadable",
                  row.seq)
        return leaf_hash(b"")


def _integrate(session, size: int, rows: list[tuple[int, bytes]]) -> int:
    """Store a leaf per event and the subtree nodes they complete; return the new size."""
    if not rows:
        return size
    insert_rows(session, "audit_leaves", ("leaf_index", "seq", "leaf_hash"),
                [(size + i, seq, digest) for i, (seq, digest) in enumerate(rows)])
    return append_leaves(DbNodeStore(session), size, [digest for _, digest in rows])


def _checkpoint(session, size: int) -> int | None:
    """Sign the tree of ``size`` leaves unless a checkpoint of that size exists already."""
    latest = latest_checkpoint(session)
    if latest is not None and latest.tree_size >= size:
        return None
    root = root_at(DbNodeStore(session), size)
    origin = current_app.config["HUB_AUDIT_ORIGIN"]
    note = sign_checkpoint(Checkpoint(origin, size, root), signer())
    session.add(AuditCheckpoint(tree_size=size, root_hash=root, note=note, signed_at=utcnow()))
    session.flush()
    return size


# --- running on a schedule inside the hub ----------------------------------------------


def init_app(app: Flask) -> None:
    """Run the sequencer every HUB_SEQUENCER_INTERVAL seconds in each serving process.

    The thread starts with the first request, not in the factory itself: CLI commands
    (``hub db upgrade`` among them) build the app too, and a process forked by gunicorn
    must start its own thread. The lock makes many such threads safe.
    """
    interval = app.config.get("HUB_SEQUENCER_INTERVAL", 0)
    if interval <= 0:
        return
    started: dict[int, threading.Thread] = {}
    stopping = threading.Event()
    app.extensions["hub.sequencer"] = (stopping, started)

    @app.before_request
    def _start_sequencer():
        if os.getpid() not in started:
            started[os.getpid()] = thread = threading.Thread(
                target=_loop, args=(app, interval, stopping), name="audit-sequencer", daemon=True)
            thread.start()


def stop(app: Flask) -> None:
    """End this process's scheduled runs of the sequencer, waiting for one in progress."""
    if "hub.sequencer" in app.extensions:
        stopping, started = app.extensions["hub.sequencer"]
        stopping.set()
        if thread := started.get(os.getpid()):
            thread.join()


def _loop(app: Flask, interval: float, stopping: threading.Event) -> None:
    while not stopping.wait(interval):
        with app.app_context():
            try:
                run_once()
            except Exception:  # a down database must not kill the thread: retry next time
                log.exception("audit sequencer run failed")
            finally:
                db.session.remove()
