"""`hub audit ...`: integrate and sign (checkpoint), verify and export the audit log.

``verify`` trusts nothing in the database: it re-derives every leaf hash from
audit_events, rebuilds the tree, and checks it against every stored checkpoint and any
witness copy, using only the public half of the signing key.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterator
from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select

from audit import NoteError, open_checkpoint, root_at, verify_log
from audit.merkle import MissingNodeError
from hub.auditlog import sequencer
from hub.auditlog.models import AuditEvent
from hub.auditlog.tree import (
    EVENT_FIELDS,
    AuditCheckpoint,
    AuditLeaf,
    DbNodeStore,
    b64,
    event_dict,
)
from hub.extensions import db

PROGRESS_FROM = 50_000  # smaller logs verify in a blink: no bar
READ_CHUNK = 20_000


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


def _leaf_rows():
    """Every leaf with its event (None columns when the event row is gone), in order."""
    events = AuditEvent.__table__
    columns = [events.c[name].label(name) for name in EVENT_FIELDS if name != "seq"]
    stmt = (select(AuditLeaf.leaf_index, AuditLeaf.seq, AuditLeaf.leaf_hash,
                   events.c.seq.label("event_seq"), *columns)
            .select_from(AuditLeaf.__table__.outerjoin(events, events.c.seq == AuditLeaf.seq))
            .order_by(AuditLeaf.leaf_index))
    # Core on the session's connection (not the ORM): half the cost per row on big logs.
    return db.session.connection().execute(stmt, execution_options={"yield_per": READ_CHUNK})


def leaf_events(missing: list[str]) -> Iterator[dict]:
    """Events as the verifier reads them: the hashed fields plus their tree position.

    A leaf whose event row was deleted yields a stand-in (which cannot match its hash)
    and is named in ``missing``.
    """
    for row in _leaf_rows():
        meta = {"leaf_index": row.leaf_index, "stored_leaf_hash": b64(row.leaf_hash)}
        if row.event_seq is None:
            missing.append(f"leaf {row.leaf_index}: event seq {row.seq} is missing from "
                           "audit_events (deleted)")
            yield {"seq": row.seq, **meta}
            continue
        yield {**event_dict(row), **meta}


# --- verify ------------------------------------------------------------------------------


@audit.command("verify")
@click.option("--witness", "witnesses", multiple=True,
              type=click.Path(exists=True, path_type=Path),
              help="a witness checkpoint file, or a folder of them; repeatable")
@with_appcontext
def verify(witnesses: tuple[Path, ...]):
    """Re-derive the whole log and check it against every signed checkpoint."""
    signer = sequencer.signer()
    stored = _checkpoints()
    notes = [cp.note for cp in stored]
    witness = [p.read_bytes() for path in witnesses for p in _note_files(path)]
    total = db.session.scalar(select(func.count()).select_from(AuditLeaf)) or 0
    missing: list[str] = []
    with _progress(total) as bar:
        report = verify_log(leaf_events(missing), notes, signer.public_key, signer.name,
                            witness=witness, progress=bar)
    problems = missing + _row_problems(stored, signer) + report.problems
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
        for event in leaf_events([]):
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
