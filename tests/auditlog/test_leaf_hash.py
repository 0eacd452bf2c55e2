"""The writer hashes each event's leaf once; the sequencer integrates those hashes, and
reads only the events it has not seen (above the newest leaf, or late in a recorded gap);
`hub audit verify` recomputes every leaf from the rows, in one process or several."""

from __future__ import annotations

import json

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import func, insert, select

from audit import CanonicalizationError, event_leaf_hash
from audit.canonical import canonical_bytes_reference
from hub import signals
from hub.auditlog import cli, sequencer, writer
from hub.auditlog.models import AuditEvent
from hub.auditlog.tree import (
    JSON_FIELDS,
    READ_FIELDS,
    AuditSeqGap,
    RawEventReader,
    leaf_content,
)
from hub.extensions import db
from tests.auditlog.conftest import Dba, backends, hub, leaf_seqs, record_events


def event_seqs(app) -> list[int]:
    with app.app_context():
        seqs = list(db.session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))
        db.session.remove()
    return seqs


@backends
def test_stored_hash_is_what_verify_recomputes_from_the_row(fresh, backend):
    """Values the database gives back differently from how they were passed (int keys,
    tuples, unicode, nesting) must be hashed as stored, or verify would cry tampering."""
    app = fresh(backend)
    odd = [{1: "one", "nested": {"b": (1, 2), "a": None}}, {"naïve": "zoë 😀", "x": True},
           {"n": -(2**53 - 1), "list": [{"z": 1, "y": [2, 3]}]}]
    with app.test_request_context():
        written = [writer.record_now("case:read", case_id=5, classes=("b", "a", "b"),
                                     subject_ids=(3, 1, 3), details=d) for d in odd]
        seqs = [event.seq for event in written]
        db.session.remove()
    with app.app_context():
        for seq in seqs:
            row = db.session.get(AuditEvent, seq)
            db.session.refresh(row)
            assert row.leaf_hash == event_leaf_hash(leaf_content(row.__dict__))
        sequencer.run_once()
        db.session.remove()
    result = hub(app, "audit", "verify")
    assert result.returncode == 0, result.stdout + result.stderr


@backends
def test_an_event_that_cannot_be_canonicalised_is_refused_at_write_time(fresh, backend):
    app = fresh(backend)
    before = len(event_seqs(app))
    with app.test_request_context(), pytest.raises(writer.AuditUnavailable):
        writer.record_now("case:read", details={"n": 2**60})
    assert len(event_seqs(app)) == before


@backends
def test_an_unreadable_row_is_integrated_as_verify_will_read_it(fresh, backend):
    """A row written around the writer that cannot be canonicalised (an integer beyond
    what JSON carries exactly) must not stop the sequencer; its leaf is the stand-in that
    verify also computes, so verify names that event and nothing else."""
    app = fresh(backend)
    with app.app_context():
        db.session.execute(insert(AuditEvent).values(
            at=func.now(), action="case:read", outcome="allowed", subject_ids=[], classes=[],
            details={"n": 2**60}))
        db.session.commit()
        seq = max(event_seqs(app))
        assert sequencer.run_once().integrated >= 1
        db.session.remove()
    result = hub(app, "audit", "verify")
    assert result.returncode == 1
    problems = [line for line in result.stdout.splitlines() if "(event seq" in line]
    assert problems and all(f"(event seq {seq}): event cannot be canonicalised" in line
                            for line in problems), result.stdout


@backends
def test_rows_without_a_stored_hash_get_leaves_that_cover_their_seq(fresh, backend, request):
    """Events written before migration 0008 (or by anything but the writer) carry no
    hash: the sequencer hashes them itself, seq included, and verify agrees."""
    app = fresh(backend)
    with app.app_context():
        db.session.execute(insert(AuditEvent).values(
            at=func.now(), action="case:read", outcome="allowed", subject_ids=[], classes=[],
            details={}))
        db.session.commit()
        sequencer.run_once()
        db.session.remove()
    assert hub(app, "audit", "verify").returncode == 0
    # Such a leaf covers the seq: renumbering the event is caught.
    last = leaf_seqs(app)[-1]
    Dba(app, request).execute(("UPDATE audit_events SET seq = ? WHERE seq = ?",
                               (last + 100, last)),
                              ("UPDATE audit_leaves SET seq = ? WHERE seq = ?",
                               (last + 100, last)))
    result = hub(app, "audit", "verify")
    assert result.returncode == 1
    assert f"(event seq {last + 100}): hash does not match" in result.stdout


@backends
def test_gaps_are_recorded_and_late_events_in_them_integrated(fresh, backend):
    """A seq the sequencer passes without an event may still commit (PostgreSQL hands out
    seqs before commit): it is recorded as a gap and integrated when it appears."""
    app = fresh(backend)
    record_events(app, 2)
    with app.app_context():
        sequencer.run_once()
        top = max(event_seqs(app))
        row = {"at": func.now(), "action": "case:read", "outcome": "allowed",
               "subject_ids": [], "classes": [], "details": {}}
        db.session.execute(insert(AuditEvent).values(seq=top + 5, **row))
        db.session.commit()
        first = sequencer.run_once()
        gaps = [(g.lo, g.hi) for g in db.session.scalars(select(AuditSeqGap))]
        db.session.execute(insert(AuditEvent).values(seq=top + 2, **row))  # commits late
        db.session.execute(insert(AuditEvent).values(seq=top + 6, **row))  # and a new one
        db.session.commit()
        batches = []  # one event a batch (a transaction): the late one, then the new one
        with signals.batch_integrated.connected_to(lambda sender: batches.append(1)):
            second = sequencer.run_once(batch_size=1)
        third = sequencer.run_once()
        db.session.remove()
    assert first.integrated == 1 and gaps == [(top + 1, top + 4)]
    assert (second.integrated, len(batches), third.integrated) == (2, 3, 0)
    assert leaf_seqs(app)[-3:] == [top + 5, top + 2, top + 6]
    assert sorted(leaf_seqs(app)) == event_seqs(app)
    assert hub(app, "audit", "verify").returncode == 0


@backends
def test_verify_in_several_processes_reaches_the_same_verdict(fresh, backend, request):
    """`hub audit verify --jobs N` reads blocks of leaves in forked workers; with tiny
    blocks, intact ones are taken as subtrees and broken ones leaf by leaf."""
    app = fresh(backend)
    record_events(app, 30)
    with app.app_context():
        first = sequencer.run_once(batch_size=9).tree_size
        record_events(app, 5)
        sequencer.run_once()
        db.session.remove()
    seqs = leaf_seqs(app)
    intact = _verify_in_process(app, jobs=2, chunk=4)
    assert intact.ok and intact.leaves == len(seqs) and intact.checkpoints_checked == 2
    Dba(app, request).execute(("UPDATE audit_events SET case_id = 99 WHERE seq = ?", (seqs[5],)),
                              ("DELETE FROM audit_events WHERE seq = ?", (seqs[13],)),
                              ("DELETE FROM audit_leaves WHERE leaf_index = 22", ()))
    reports = [_verify_in_process(app, jobs, chunk) for jobs, chunk in
               ((1, 1 << 16), (2, 4), (2, 8), (3, 1))]
    assert all(report == reports[0] for report in reports[1:])
    assert reports[0].problems[:2] == [
        f"leaf 5 (event seq {seqs[5]}): hash does not match checkpoint at size {first}",
        f"leaf 13: event seq {seqs[13]} is missing from audit_events (deleted)"]
    assert f"leaf 23 (event seq {seqs[23]}): expected leaf_index 22; leaf 22 is missing or " \
           "out of order" in reports[0].problems


def _verify_in_process(app, jobs: int, chunk: int):
    from audit.verify import verify_chunks
    from hub.auditlog.tree import AuditCheckpoint

    with app.app_context():
        signer = sequencer.signer()
        notes = list(db.session.scalars(select(AuditCheckpoint.note)
                                        .order_by(AuditCheckpoint.tree_size)))
        db.session.commit()
        report = verify_chunks(lambda sizes: cli.hashed_blocks(sizes, jobs, chunk), notes,
                               signer.public_key, signer.name)
        db.session.remove()
    return report


# --- verify's fast encoder against the reference -------------------------------------

_text = st.text(st.characters(codec=None, exclude_categories=()), max_size=8)
_json_values = st.recursive(
    st.none() | st.booleans() | _text | st.integers(-(2**54), 2**54)
    | st.floats(allow_nan=False, allow_infinity=False),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_text, inner, max_size=3),
    max_leaves=8)
# What SQLite hands back for a column: typed values, now and then anything a DBA stored.
_typical = (st.none() | _text | st.integers(-(2**53) + 1, 2**53 - 1)
            | st.sampled_from(["nhs", "police", "case:read", "allowed", "ab" * 32]))
_odd = (st.floats(allow_nan=False) | st.binary(max_size=4) | st.integers(2**53, 2**63 - 1)
        | st.just("2026-11-01 00:00:00") | st.just("[1, 2") | st.just('"\\ud800"'))
_typical_time = st.datetimes().map(lambda t: t.isoformat(" ", "microseconds"))
_typical_json = _json_values.map(json.dumps) | st.sampled_from(["[]", "{}", "[1, 2]"])
_row = st.tuples(_typical_time, st.lists(_typical, min_size=15, max_size=15),
                 st.lists(_typical_json, min_size=3, max_size=3),
                 st.none() | st.integers(1, 2**53 - 1),
                 st.none() | st.tuples(st.integers(0, len(READ_FIELDS) - 1), _odd))


@given(st.lists(_row, min_size=1, max_size=6))
@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
def test_verify_encoder_gives_the_reference_bytes_on_sqlite(rows):
    """RawEventReader.canonical (per-value fragments, remembered across rows) must equal
    canonical_bytes of the event dict, or refuse it the same way, for whatever the
    columns hold; rows share one reader, as in a verify worker."""
    from sqlalchemy.dialects import sqlite

    reader = RawEventReader(sqlite.dialect())
    for at, plain, json_texts, seq, odd in rows:
        plain, json_texts = iter(plain), iter(json_texts)
        values = [at if name == "at" else next(json_texts) if name in JSON_FIELDS
                  else next(plain) for name in READ_FIELDS]
        if odd is not None:
            values[odd[0]] = odd[1]
        for row in (values, values):  # the second time from remembered fragments
            _same_bytes_or_both_refused(reader, row, seq)


def _same_bytes_or_both_refused(reader, values, seq) -> None:
    try:
        expected = canonical_bytes_reference(reader.content(values, seq))
    except (CanonicalizationError, TypeError, ValueError, AttributeError, OverflowError):
        with pytest.raises((CanonicalizationError, TypeError, ValueError, AttributeError,
                            OverflowError)):
            reader.canonical(values, seq)
        return
    assert reader.canonical(values, seq) == expected
