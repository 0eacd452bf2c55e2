"""Tampering by someone who controls the database, each caught by `hub audit verify`.

Every test switches the append-only triggers off first, as a DBA could, then changes the
log, and runs `hub audit verify`, which must exit non-zero naming what is wrong. Each runs
on SQLite (a file) and on PostgreSQL.

The log is built once per backend and found intact by the installed `hub` console script;
each test wrecks its own copy and runs the command in process (the console script takes
seconds to start), except the first, which runs the script again to see it fail.
"""

from __future__ import annotations

import shutil
import uuid

import pytest

from audit import Checkpoint, Signer, sign_checkpoint
from hub.auditlog import sequencer
from hub.auditlog.cli import _checkpoints, _witness_copy
from hub.extensions import db
from tests.auditlog.conftest import Dba, backends, clone_app, hub, leaf_seqs, record_events


@pytest.fixture(scope="module")
def pristine() -> dict:
    """backend -> (app, witness folder) of the log every test starts from."""
    return {}


@pytest.fixture
def log(fresh, pristine, tmp_path, request):
    """A copy of a hub whose log has two signed checkpoints, both copied to a witness
    folder (built the first time a backend asks, then shared by the module's tests)."""
    def make(backend: str):
        if backend not in pristine:
            pristine[backend] = _build(fresh(backend), tmp_path / "pristine-witness")
        original, witness_source = pristine[backend]
        app = clone_app(original, tmp_path / f"hub-{backend}-{uuid.uuid4().hex[:10]}", request)
        witness = shutil.copytree(witness_source, tmp_path / "witness")
        return app, witness, Dba(app, request), leaf_seqs(app)
    return make


def _build(app, witness):
    """Two batches of events, each integrated and signed, each checkpoint sent to the
    witness (what `hub audit checkpoint --witness` does); then the real `hub` says intact."""
    for n in (20, 10):
        record_events(app, n, subject_ids=[1, 2])
        with app.app_context():
            sequencer.run_once()
            _witness_copy(witness, _checkpoints()[-1])
            db.session.remove()
    intact = hub(app, "audit", "verify", "--witness", str(witness), script=True)
    assert intact.returncode == 0, intact.stdout + intact.stderr
    assert "audit log intact" in intact.stdout
    assert len(list(witness.iterdir())) == 2
    return app, witness


def failed(app, *args: str, script: bool = False) -> str:
    result = hub(app, "audit", "verify", *args, script=script)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "audit log NOT intact" in result.stdout
    return result.stdout.split("first problem: ", 1)[1]


@backends
def test_a_changed_field_names_its_leaf(log, backend):
    app, _witness, dba, seqs = log(backend)
    dba.execute(("UPDATE audit_events SET case_id = 99 WHERE seq = ?", (seqs[5],)))
    assert failed(app, script=True).startswith(
        f"leaf 5 (event seq {seqs[5]}): hash does not match")


@backends
def test_a_deleted_event_is_named(log, backend):
    app, _witness, dba, seqs = log(backend)
    dba.execute(("DELETE FROM audit_events WHERE seq = ?", (seqs[7],)))
    assert failed(app).startswith(f"leaf 7: event seq {seqs[7]} is missing from audit_events")


@backends
def test_a_deleted_event_and_leaf_leave_a_gap(log, backend):
    app, _witness, dba, seqs = log(backend)
    dba.execute(("DELETE FROM audit_events WHERE seq = ?", (seqs[7],)),
                ("DELETE FROM audit_leaves WHERE leaf_index = 7", ()))
    assert "leaf 7 is missing or out of order" in failed(app)


@backends
def test_a_forged_event_in_place_of_a_real_one(log, backend):
    app, _witness, dba, seqs = log(backend)
    forged = max(seqs) + 1000
    dba.execute(
        ("INSERT INTO audit_events (seq, at, action, outcome, subject_ids, classes, details, "
         "username) SELECT ?, at, action, outcome, subject_ids, classes, details, 'advocate' "
         "FROM audit_events WHERE seq = ?", (forged, seqs[3])),
        ("UPDATE audit_leaves SET seq = ? WHERE leaf_index = 3", (forged,)))
    assert failed(app).startswith(f"leaf 3 (event seq {forged}): hash does not match")


@backends
def test_two_swapped_events(log, backend):
    app, _witness, dba, seqs = log(backend)
    dba.execute(("UPDATE audit_leaves SET seq = -1 WHERE leaf_index = 4", ()),
                ("UPDATE audit_leaves SET seq = ? WHERE leaf_index = 6", (seqs[4],)),
                ("UPDATE audit_leaves SET seq = ? WHERE leaf_index = 4", (seqs[6],)))
    problem = failed(app)
    assert problem.startswith(f"leaf 4 (event seq {seqs[6]}): hash does not match")


@backends
def test_a_truncated_tail_is_caught_by_the_witness(log, backend):
    app, witness, dba, seqs = log(backend)
    size = len(seqs)
    dba.execute(("DELETE FROM audit_events WHERE seq >= ?", (seqs[size - 10],)),
                ("DELETE FROM audit_subjects WHERE seq >= ?", (seqs[size - 10],)),
                ("DELETE FROM audit_leaves WHERE leaf_index >= ?", (size - 10,)),
                ("DELETE FROM audit_nodes WHERE (node_index + 1) * (1 << level) > ?",
                 (size - 10,)),
                ("DELETE FROM audit_checkpoints WHERE tree_size = ?", (size,)))
    # The database alone is consistent again: only a copy kept elsewhere can tell.
    assert hub(app, "audit", "verify").returncode == 0
    problem = failed(app, "--witness", str(witness))
    assert f"log has {size - 10} leaves but witness checkpoint says {size}" in problem
    assert "truncated" in problem


@backends
def test_a_replaced_checkpoint(log, backend):
    app, _witness, dba, seqs = log(backend)
    (older,) = dba.rows("SELECT note FROM audit_checkpoints WHERE tree_size = ?",
                        (len(seqs) - 10,))[0]
    dba.execute(("UPDATE audit_checkpoints SET note = ? WHERE tree_size = ?",
                 (older, len(seqs))))
    assert failed(app) == (f"checkpoint row for size {len(seqs)} holds a note for size "
                           f"{len(seqs) - 10}: the checkpoint was replaced\n")


@backends
def test_a_checkpoint_signed_with_another_key(log, backend):
    app, _witness, dba, seqs = log(backend)
    ((root, note),) = dba.rows("SELECT root_hash, note FROM audit_checkpoints "
                               "WHERE tree_size = ?", (len(seqs),))
    origin = note.split("\n", 1)[0]
    forged = sign_checkpoint(Checkpoint(origin, len(seqs), bytes(root)), Signer.generate(origin))
    dba.execute(("UPDATE audit_checkpoints SET note = ? WHERE tree_size = ?",
                 (forged, len(seqs))))
    assert failed(app).startswith(f"checkpoint #2: note has no signature by key {origin}")


@backends
def test_a_persons_deleted_subject_rows_are_named(log, backend):
    """Subject access bundles are read from audit_subjects: deleting a person's rows would
    silently drop every disclosure about them."""
    app, _witness, dba, seqs = log(backend)
    dba.execute(("DELETE FROM audit_subjects WHERE person_id = 2", ()))
    assert failed(app).startswith(f"audit_subjects is missing person 2 of event seq {seqs[0]}")


def _naming(app, person_id: int) -> list[int]:
    """The seqs of the events that name the person, as audit_subjects indexes them."""
    from sqlalchemy import select

    from hub.auditlog.models import AuditSubject

    with app.app_context():
        seqs = list(db.session.scalars(select(AuditSubject.seq).where(
            AuditSubject.person_id == person_id).order_by(AuditSubject.seq)))
        db.session.remove()
    return seqs


@backends
def test_many_missing_subject_rows_are_counted_beyond_the_first_five(log, backend):
    app, _witness, dba, _seqs = log(backend)
    naming = _naming(app, 2)
    dba.execute(("DELETE FROM audit_subjects WHERE person_id = 2", ()))
    named = failed(app).splitlines()
    assert sum("audit_subjects is missing person 2" in line for line in named) == 5
    assert f"  also: ... and {len(naming) - 5} more like it" in named


@backends
def test_five_missing_subject_rows_are_all_named_and_nothing_more(log, backend):
    app, _witness, dba, _seqs = log(backend)
    dba.execute(*[("DELETE FROM audit_subjects WHERE person_id = 2 AND seq = ?", (seq,))
                  for seq in _naming(app, 2)[:5]])
    named = failed(app).splitlines()
    assert sum("audit_subjects is missing person 2" in line for line in named) == 5
    assert not any("more like it" in line for line in named)


@backends
def test_an_invented_subject_row_is_named(log, backend):
    app, _witness, dba, seqs = log(backend)
    dba.execute(("INSERT INTO audit_subjects (seq, person_id) VALUES (?, 7)", (seqs[3],)))
    assert failed(app).startswith(f"audit_subjects names person 7 for event seq {seqs[3]}, "
                                  "which the signed event does not")


@backends
def test_a_changed_interior_node_is_named(log, backend):
    """Proofs are served from audit_nodes; a node no checkpoint's root passes through
    (level 1, leaves 0 and 1 of a 30-leaf tree are under the root, so take the node of
    leaves 2 and 3 too) must still be caught."""
    app, _witness, dba, _seqs = log(backend)
    dba.execute(("UPDATE audit_nodes SET hash = ? WHERE level = 1 AND node_index = 1",
                 (b"\x00" * 32,)))
    assert "audit_nodes node (1, 1) is not the hash of its children" in failed(app)


@backends
def test_a_deleted_interior_node_is_named(log, backend):
    app, _witness, dba, _seqs = log(backend)
    dba.execute(("DELETE FROM audit_nodes WHERE level = 2 AND node_index = 3", ()))
    assert "audit_nodes is missing node (2, 3)" in failed(app)


@backends
def test_a_wiped_node_table_is_named_twenty_nodes_at_most(log, backend):
    """30 leaves have 26 interior nodes; the first 20 are named, so the report stays
    readable, and nothing stops at a level that has lost every node."""
    app, _witness, dba, _seqs = log(backend)
    dba.execute(("DELETE FROM audit_nodes WHERE level > 0", ()))
    named = failed(app).splitlines()
    assert sum("audit_nodes is missing node" in line for line in named) == 20


@backends
def test_a_node_above_the_tree_is_named_with_the_others(log, backend):
    app, _witness, dba, _seqs = log(backend)
    dba.execute(("INSERT INTO audit_nodes (level, node_index, hash) VALUES (9, 0, ?)",
                 (b"\x01" * 32,)),
                ("UPDATE audit_nodes SET hash = ? WHERE level = 1 AND node_index = 1",
                 (b"\x00" * 32,)))
    named = failed(app)
    assert "audit_nodes node (1, 1) is not the hash of its children" in named
    assert "audit_nodes holds node (9, 0) for leaves the log does not have" in named
