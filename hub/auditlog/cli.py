"""`hub audit ...`: integrate and sign (checkpoint), verify and export the audit log.

``verify`` trusts nothing in the database: it re-derives every leaf hash from
audit_events, rebuilds the tree, and checks it against every stored checkpoint and any
witness copy, using only the public half of the signing key.
"""

from __future__ import annotations

import functools
import json
import multiprocessing
import os
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from audit import CanonicalizationError, NoteError, open_checkpoint, root_at
from audit.merkle import MissingNodeError
from audit.verify import ChunkRow, LeafChunk, hash_chunk, verify_chunks
from hub.auditlog import integrity, sequencer
from hub.auditlog.models import AuditEvent
from hub.auditlog.tree import (
    READ_FIELDS,
    AuditCheckpoint,
    AuditLeaf,
    DbNodeStore,
    RawEventReader,
    b64,
)
from hub.extensions import READ_ONLY, db

PROGRESS_FROM = 50_000  # smaller logs verify in a blink: no bar


@click.group("audit")
def audit():
    """The tamper-evident audit log."""


@audit.command("checkpoint")
@click.option("--witness", "witness_dir", type=click.Path(file_okay=False, path_type=Path),
              help="also copy the latest checkpoint note into this folder (a witness)")
@with_appcontext
def checkpoint(witness_dir: Path | None):
    """Integrate new events into the tree and write a signed checkpoint."""
    result = sequencer.run_once()
    latest = _checkpoints()[-1] if _checkpoints() else None
    click.echo(f"integrated {result.integrated} event(s); tree size {result.tree_size}; "
               + (f"signed checkpoint at size {result.checkpoint}" if result.checkpoint
                  else "no new checkpoint needed"))
    if witness_dir is not None and latest is not None:
        path = _witness_copy(witness_dir, latest)
        click.echo(f"witness copy: {path}")


def _witness_copy(folder: Path, cp: AuditCheckpoint) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"checkpoint-{cp.tree_size:020d}"
    path.write_text(cp.note, encoding="utf-8")
    return path


def _checkpoints() -> list[AuditCheckpoint]:
    return list(db.session.scalars(select(AuditCheckpoint).order_by(AuditCheckpoint.tree_size)))


# --- reading the log in leaf order -----------------------------------------------------

CHUNK = 1 << 16
"""Leaves per block read and hashed by one worker: a power of two, so that each block is
a perfect subtree of the log and the verifier can take an intact block whole."""

# Column names from LEAF_FIELDS and integer bounds only: nothing from outside.
_LEAF_SQL = (
    "SELECT l.leaf_index, l.seq, l.leaf_hash, "  # noqa: S608 -- see above  # nosec B608
    "e.seq, e.leaf_hash IS NULL, "
    + ", ".join(f"e.{name}" for name in READ_FIELDS)
    + " FROM audit_leaves l LEFT JOIN audit_events e ON e.seq = l.seq{where} "
    "ORDER BY l.leaf_index"
)


def _chunk_bounds(count: int, chunk: int) -> list[tuple[int | None, int | None]]:
    """Leaf-index ranges covering every leaf row once, whatever its leaf_index: the
    first range is open below and the last open above (a tampered log may hold
    negative, repeated or huge indexes, and verify must still read every row)."""
    blocks = max(1, -(-count // chunk))
    return [(None if k == 0 else k * chunk, None if k == blocks - 1 else (k + 1) * chunk)
            for k in range(blocks)]


def _leaf_rows(connection, bounds: tuple[int | None, int | None]):
    """Leaf rows with their event's hashed columns (None when the event row is gone),
    as the driver returns them (see ``RawEventReader``)."""
    lo, hi = bounds
    tests = ([f"l.leaf_index >= {int(lo)}"] if lo is not None else []) + (
        [f"l.leaf_index < {int(hi)}"] if hi is not None else [])
    where = f" WHERE {' AND '.join(tests)}" if tests else ""
    return connection.exec_driver_sql(_LEAF_SQL.format(where=where))


def _chunk_rows(reader: RawEventReader, rows, *, as_bytes: bool) -> Iterator[ChunkRow]:
    """(leaf_index, seq, stored hash, leaf content or None, problem) for ``hash_chunk``;
    the content as its canonical bytes when ``as_bytes`` (what verify hashes), else as a
    dict (what export writes)."""
    build = reader.canonical if as_bytes else reader.content
    for index, seq, stored, event_seq, unhashed, *values in rows:
        if event_seq is None:
            yield index, seq, stored, None, (f"leaf {index}: event seq {seq} is missing from "
                                             "audit_events (deleted)")
            continue
        try:
            content = build(values, seq if unhashed else None)
        except CanonicalizationError as exc:
            yield index, seq, stored, None, (f"leaf {index} (event seq {seq}): event cannot "
                                             f"be canonicalised ({exc})")
            continue
        except (TypeError, ValueError, AttributeError) as exc:  # a column holds nonsense
            yield index, seq, stored, None, (f"leaf {index} (event seq {seq}): a column "
                                             f"cannot be read ({type(exc).__name__})")
            continue
        yield index, seq, stored, content, None


def _hash_block(connection, bounds, sizes: list[int]) -> LeafChunk:
    """Read and hash one block of leaves."""
    rows = _leaf_rows(connection, bounds).fetchall()
    reader = RawEventReader(connection.dialect)
    return hash_chunk(bounds[0] or 0, _chunk_rows(reader, rows, as_bytes=True), sizes)


_worker_engine = None  # the parent's engine, inherited by forked workers


def _worker_start() -> None:
    # Connections inherited from the parent belong to it: forget them, never close them.
    _worker_engine.dispose(close=False)


def _worker_block(bounds, sizes: list[int]) -> LeafChunk:
    with _worker_engine.connect().execution_options(**READ_ONLY) as connection:
        return _hash_block(connection, bounds, sizes)


def hashed_blocks(sizes: list[int], jobs: int, chunk: int = CHUNK) -> Iterator[LeafChunk]:
    """The whole log as hashed blocks in leaf order, read by ``jobs`` processes.

    The workers are forked, so they start at once with the app already configured; each
    reads its blocks with plain driver cursors on its own connection (one process reads
    on the session's, inside its transaction).
    """
    global _worker_engine
    count = db.session.scalar(select(func.count()).select_from(AuditLeaf)) or 0
    bounds = _chunk_bounds(count, chunk)
    if jobs <= 1 or len(bounds) == 1:
        for block in bounds:
            yield _hash_block(db.session.connection(), block, sizes)
        return
    _worker_engine = db.engine
    context = multiprocessing.get_context("fork")
    with context.Pool(min(jobs, len(bounds)), initializer=_worker_start) as pool:
        yield from pool.imap(functools.partial(_worker_block, sizes=sizes), bounds)


def leaf_events() -> Iterator[dict]:
    """Events as an exported log holds them: the hashed fields, the seq (as ``seq`` where
    the leaf covers it, else as ``event_seq``), the leaf index and the stored hash. A leaf
    whose event row was deleted yields a stand-in, which cannot match its hash."""
    count = db.session.scalar(select(func.count()).select_from(AuditLeaf)) or 0
    connection = db.session.connection()
    reader = RawEventReader(connection.dialect)
    for bounds in _chunk_bounds(count, CHUNK):
        rows = _leaf_rows(connection, bounds).fetchall()
        for index, seq, stored, content, _problem in _chunk_rows(reader, rows, as_bytes=False):
            event = {"seq": seq} if content is None else dict(content)
            if "seq" not in event:
                event["event_seq"] = seq
            yield {**event, "leaf_index": index, "stored_leaf_hash": b64(stored)}


# --- verify ------------------------------------------------------------------------------


@audit.command("verify")
@click.option("--witness", "witnesses", multiple=True,
              type=click.Path(exists=True, path_type=Path),
              help="a witness checkpoint file, or a folder of them; repeatable")
@click.option("--jobs", type=click.IntRange(min=1), default=min(4, os.cpu_count() or 1),
              show_default=True, help="processes reading and hashing the log")
@with_appcontext
def verify(witnesses: tuple[Path, ...], jobs: int):
    """Re-derive the whole log and check it against every signed checkpoint."""
    signer = sequencer.signer()
    stored = _checkpoints()
    notes = [cp.note for cp in stored]
    witness = [p.read_bytes() for path in witnesses for p in _note_files(path)]
    total = db.session.scalar(select(func.count()).select_from(AuditLeaf)) or 0
    if jobs > 1:
        db.session.commit()  # end this read transaction before forking workers
    with _progress(total) as bar:
        report = verify_chunks(lambda sizes: hashed_blocks(sizes, jobs), notes,
                               signer.public_key, signer.name, witness=witness, progress=bar)
    problems = _row_problems(stored, signer) + report.problems \
        + integrity.side_table_problems(db.engine)
    _print(report, problems, witnesses)
    if problems:
        sys.exit(1)


def _note_files(path: Path) -> list[Path]:
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    return [path]


class _progress:
    """A progress bar on stderr for long runs; a no-op callback otherwise."""

    def __init__(self, total: int) -> None:
        self.total, self.bar, self.done = total, None, 0

    def __enter__(self):
        if self.total >= PROGRESS_FROM:
            self.bar = click.progressbar(length=self.total, label="verifying audit log",
                                         file=sys.stderr).__enter__()
        return self

    def __call__(self, leaves: int) -> None:
        if self.bar is not None:
            self.bar.update(leaves - self.done)
            self.done = leaves

    def __exit__(self, *exc):
        if self.bar is not None:
            self.bar.__exit__(*exc)


def _row_problems(stored: list[AuditCheckpoint], signer) -> list[str]:
    """The checkpoint rows' own columns must say what their signed notes say, and the
    stored subtree nodes (which serve proofs) must give the latest root."""
    problems = []
    for cp in stored:
        try:
            note = open_checkpoint(cp.note, signer.public_key, signer.name)
        except NoteError:
            continue  # verify_log reports the bad signature itself
        if note.size != cp.tree_size or note.root_hash != bytes(cp.root_hash):
            problems.append(f"checkpoint row for size {cp.tree_size} holds a note for size "
                            f"{note.size}: the checkpoint was replaced")
    if stored:
        problems += _node_problems(stored[-1])
    return problems


def _node_problems(cp: AuditCheckpoint) -> list[str]:
    try:
        root = root_at(DbNodeStore(), cp.tree_size)
    except MissingNodeError as exc:
        return [f"audit_nodes cannot give the root at size {cp.tree_size}: {exc}"]
    if root != bytes(cp.root_hash):
        return [f"audit_nodes give a different root at size {cp.tree_size} than its "
                "checkpoint: proofs served from them would not verify"]
    return []


def _print(report, problems: list[str], witnesses) -> None:
    summary = (f"{report.leaves} leaves, {report.checkpoints_checked} checkpoint(s) checked"
               + (f" including witness copies from {len(witnesses)} path(s)" if witnesses
                  else ""))
    pending = _pending()
    if not problems:
        click.echo(f"audit log intact: {summary}")
        if report.covered < report.leaves:
            click.echo(f"note: leaves {report.covered}.. are not yet covered by a checkpoint")
    else:
        click.echo(f"audit log NOT intact: {summary}, {len(problems)} problem(s)")
        click.echo(f"first problem: {problems[0]}")
        for problem in problems[1:]:
            click.echo(f"  also: {problem}")
    if pending:
        click.echo(f"note: {pending} event(s) not yet integrated (run `hub audit checkpoint`)")


def _pending() -> int:
    has_leaf = select(AuditLeaf.seq).where(AuditLeaf.seq == AuditEvent.seq).exists()
    return db.session.scalar(select(func.count()).select_from(AuditEvent).where(~has_leaf))


# --- export ------------------------------------------------------------------------------


@audit.command("export")
@click.option("--out", required=True, type=click.Path(dir_okay=False, path_type=Path),
              help="JSON lines file, one event per line in leaf order")
@click.option("--checkpoints", "checkpoint_dir", type=click.Path(file_okay=False, path_type=Path),
              help="also write every signed checkpoint note into this folder")
@with_appcontext
def export(out: Path, checkpoint_dir: Path | None):
    """Export the log for the offline verifier (`python -m audit verify`)."""
    count = 0
    with out.open("w", encoding="utf-8") as handle:
        for event in leaf_events():
            handle.write(json.dumps(event, ensure_ascii=False, separators=(",", ":")) + "\n")
            count += 1
    if checkpoint_dir is not None:
        for cp in _checkpoints():
            _witness_copy(checkpoint_dir, cp)
    signer = sequencer.signer()
    click.echo(f"exported {count} event(s) to {out}")
    click.echo(f"key name: {signer.name}")
    click.echo(f"public key: {b64(signer.public_key)}")
    click.echo(f"origin: {current_app.config['HUB_AUDIT_ORIGIN']}")
