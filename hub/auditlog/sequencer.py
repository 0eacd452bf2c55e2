"""The audit sequencer: integrates committed events into the Merkle tree, in batches.

Requests insert audit events concurrently and never wait for each other (the design of
Trillian and Tessera). The sequencer, under a database-wide lock, picks the events that
have no leaf yet, in ``seq`` order, gives them the next leaf indexes, stores their leaf
hashes and the perfect-subtree nodes they complete, and signs a checkpoint. It only
inserts: progress is the set of rows it has written, never a counter it updates.

Events are chosen by "has no leaf" rather than "seq above the last one seen": a request
that took ``seq`` 10 may commit after one that took 11, and must be integrated then,
not skipped. Any number of processes and hosts may run it; the lock makes one win at a
time (PostgreSQL: a transaction-scoped advisory lock; SQLite: the single writer lock).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from dataclasses import dataclass

from flask import Flask, current_app
from sqlalchemy import exists, select, text

from audit import Checkpoint, append_leaves, event_leaf_hash, load_signer, root_at, sign_checkpoint
from hub.auditlog.models import AuditEvent
from hub.auditlog.tree import (
    EVENT_FIELDS,
    AuditCheckpoint,
    AuditLeaf,
    DbNodeStore,
    event_dict,
    latest_checkpoint,
    tree_size,
)
from hub.extensions import db
from hub.timeutil import utcnow

log = logging.getLogger(__name__)

BATCH_SIZE = 10_000
LOCK_KEY = 0x53544143_00000001  # "STAC" + 1: the one advisory lock the sequencer takes
_EVENT_COLUMNS = [AuditEvent.__table__.c[name] for name in EVENT_FIELDS]


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
        rows = session.connection().execute(_unsequenced(batch_size)).all()  # Core: no ORM
        new_size = _integrate(session, size, rows)
        signed = _checkpoint(session, new_size) if len(rows) < batch_size else None
        session.commit()
    except BaseException:
        session.rollback()
        raise
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


def _unsequenced(limit: int):
    """Committed events without a leaf, oldest first (an anti-join, not a high-water mark)."""
    has_leaf = exists().where(AuditLeaf.seq == AuditEvent.seq)
    return select(*_EVENT_COLUMNS).where(~has_leaf).order_by(AuditEvent.seq).limit(limit)


def _integrate(session, size: int, rows) -> int:
    """Store a leaf per event and the subtree nodes they complete; return the new size."""
    if not rows:
        return size
    hashes = [event_leaf_hash(event_dict(row)) for row in rows]
    session.connection().execute(AuditLeaf.__table__.insert(), [
        {"leaf_index": size + i, "seq": row.seq, "leaf_hash": digest}
        for i, (row, digest) in enumerate(zip(rows, hashes, strict=True))])
    return append_leaves(DbNodeStore(session), size, hashes)


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

    @app.before_request
    def _start_sequencer():
        if os.getpid() not in started:
            started[os.getpid()] = thread = threading.Thread(
                target=_loop, args=(app, interval), name="audit-sequencer", daemon=True)
            thread.start()


def _loop(app: Flask, interval: float) -> None:
    while True:
        time.sleep(interval)
        with app.app_context():
            try:
                run_once()
            except Exception:  # a down database must not kill the thread: retry next time
                log.exception("audit sequencer run failed")
            finally:
                db.session.remove()
