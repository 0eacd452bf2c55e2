"""verify_log: an intact log passes; each kind of tampering is named by the first problem."""

from __future__ import annotations

import base64
import copy
from typing import Any

import pytest

from audit import (
    EMPTY_ROOT,
    Checkpoint,
    Signer,
    VerifyReport,
    event_leaf_hash,
    leaf_hash,
    sign_checkpoint,
    verify_log,
)
from audit.canonical import canonical_bytes

from .logkit import ORIGIN, make_events, renumber, sign_sizes, with_stored_hashes

N = 100
SIZES = (16, 40, 64, 100)
WITNESS_SIZES = (64, 100)

Events = list[dict[str, Any]]


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate(ORIGIN)


@pytest.fixture(scope="module")
def log(signer: Signer) -> tuple[Events, list[str], list[str]]:
    events = make_events(N)
    return events, sign_sizes(events, SIZES, signer), sign_sizes(events, WITNESS_SIZES, signer)


def run(
    signer: Signer, events: Events, checkpoints: list[str], witness: list[str] = ()
) -> VerifyReport:
    return verify_log(events, checkpoints, signer.public_key, signer.name, witness=witness)


def edited(events: Events, position: int, **changes: Any) -> Events:
    out = copy.deepcopy(events)
    out[position].update(changes)
    return out


def test_event_leaf_hash_ignores_tree_position() -> None:
    event = make_events(1)[0]
    content = {k: v for k, v in event.items() if k != "leaf_index"}
    assert event_leaf_hash(event) == leaf_hash(canonical_bytes(content))
    assert event_leaf_hash({**event, "leaf_index": 9, "stored_leaf_hash": "x"}) == (
        event_leaf_hash(event)
    )
    assert event_leaf_hash({**event, "seq": 999}) != event_leaf_hash(event)


def test_intact_log_passes(signer: Signer, log: tuple[Events, list[str], list[str]]) -> None:
    events, checkpoints, witness = log
    for exported in (events, with_stored_hashes(events)):
        report = run(signer, exported, checkpoints, witness)
        assert report.ok, report.problems
        assert report.first_problem is None
        assert (report.leaves, report.checkpoints_checked, report.covered) == (N, 6, N)


def test_changed_field_is_bounded_by_checkpoints(signer: Signer, log: Any) -> None:
    events, checkpoints, witness = log
    report = run(signer, edited(events, 41, username="someone.else"), checkpoints, witness)
    assert not report.ok
    assert report.first_problem == (
        "checkpoint at size 64: root does not match the log; an event among leaves 40..63 "
        "was changed, inserted or removed"
    )
    assert report.covered == 40


def test_changed_field_is_named_by_stored_hashes(signer: Signer, log: Any) -> None:
    events, checkpoints, witness = log
    tampered = edited(with_stored_hashes(events), 41, outcome="denied")
    report = run(signer, tampered, checkpoints, witness)
    assert report.first_problem == (
        "leaf 41 (event seq 51): hash does not match checkpoint at size 64"
    )


def test_altered_stored_hash_is_told_apart(signer: Signer, log: Any) -> None:
    events, checkpoints, _ = log
    forged = base64.b64encode(leaf_hash(b"forged")).decode()
    tampered = edited(with_stored_hashes(events), 41, stored_leaf_hash=forged)
    report = run(signer, tampered, checkpoints)
    assert report.problems == [
        "leaf 41 (event seq 51): stored leaf hash was altered (the event itself still matches "
        "checkpoint at size 64)"
    ]


def test_unsigned_tail_with_bad_stored_hash(signer: Signer, log: Any) -> None:
    _, checkpoints, _ = log
    longer = with_stored_hashes(make_events(N + 5))
    longer[102]["action"] = "case:delete"
    report = run(signer, longer, checkpoints)
    assert report.problems == [
        "leaf 102 (event seq 112): hash does not match its stored leaf hash "
        "(no checkpoint covers it yet)"
    ]


def test_deleted_event(signer: Signer, log: Any) -> None:
    events, checkpoints, witness = log
    deleted = events[:30] + events[31:]
    report = run(signer, deleted, checkpoints, witness)
    assert report.first_problem == (
        "leaf 31 (event seq 41): expected leaf_index 30; leaf 30 is missing or out of order"
    )
    report = run(signer, renumber(deleted), checkpoints, witness)
    assert report.first_problem.startswith("checkpoint at size 40: root does not match the log")
    assert "log has 99 leaves but checkpoint says 100: the log was truncated" in report.problems


def test_inserted_forged_event(signer: Signer, log: Any) -> None:
    events, checkpoints, witness = log
    forged = {**events[20], "username": "intruder"}
    inserted = [*events[:20], forged, *events[20:]]
    report = run(signer, inserted, checkpoints, witness)
    assert report.first_problem == (
        "leaf 20 (event seq 30): leaf_index repeats or goes backwards (expected 21): "
        "an event was duplicated, inserted or reordered"
    )
    report = run(signer, with_stored_hashes(renumber(inserted)), checkpoints, witness)
    assert report.first_problem == (
        "checkpoint at size 40: root does not match the log; an event among leaves 16..39 "
        "was changed, inserted or removed"
    )


def test_swapped_pair(signer: Signer, log: Any) -> None:
    events, checkpoints, witness = log
    swapped = [*events[:50], events[51], events[50], *events[52:]]
    report = run(signer, swapped, checkpoints, witness)
    assert report.first_problem == (
        "leaf 51 (event seq 61): expected leaf_index 50; leaf 50 is missing or out of order"
    )
    # Contents swapped between rows, indexes and stored hashes left in place.
    rows = with_stored_hashes(events)
    for key in events[0]:
        if key != "leaf_index":
            rows[50][key], rows[51][key] = rows[51][key], rows[50][key]
    report = run(signer, rows, checkpoints, witness)
    assert report.problems[:2] == [
        "leaf 50 (event seq 61): hash does not match checkpoint at size 64",
        "leaf 51 (event seq 60): hash does not match checkpoint at size 64",
    ]


def test_truncated_tail_caught_by_witness(signer: Signer, log: Any) -> None:
    events, checkpoints, witness = log
    # The attacker drops the last events and the hub's checkpoint that covered them.
    report = run(signer, events[:90], checkpoints[:3], witness)
    assert report.problems == [
        "log has 90 leaves but witness checkpoint says 100: the log was truncated"
    ]
    assert run(signer, events[:90], checkpoints[:3]).ok  # without a witness it goes unseen


def test_replaced_checkpoint(signer: Signer, log: Any) -> None:
    events, checkpoints, witness = log
    tampered = edited(events, 41, username="someone.else")
    forged_root = sign_sizes(tampered, [64], Signer.generate(ORIGIN))[0].split("\n")[2]
    genuine_root = checkpoints[2].split("\n")[2]
    replaced = [*checkpoints[:2], checkpoints[2].replace(genuine_root, forged_root), checkpoints[3]]
    report = run(signer, tampered, replaced, witness)
    assert report.first_problem == f"checkpoint #3: signature by key {ORIGIN} does not verify"
    witness_failure = "witness checkpoint at size 64: root does not match"
    assert any(p.startswith(witness_failure) for p in report.problems)


def test_checkpoint_signed_with_another_key(signer: Signer, log: Any) -> None:
    events, _, _ = log
    tampered = edited(events, 41, username="someone.else")
    impostor = Signer.generate(ORIGIN)  # same name, different key
    report = run(signer, tampered, sign_sizes(tampered, SIZES, impostor))
    key_id = signer.sign(b"")[:4].hex()
    assert report.first_problem == (
        f"checkpoint #1: note has no signature by key {ORIGIN} ({key_id})"
    )
    assert report.checkpoints_checked == 0
    assert len(report.problems) == len(SIZES)


def test_bad_leaf_index_and_uncanonical_event(signer: Signer, log: Any) -> None:
    events, checkpoints, _ = log
    report = run(signer, edited(events, 5, leaf_index="5"), checkpoints)
    assert report.first_problem == "event at position 5 (event seq 15) has no integer leaf_index"
    report = run(signer, edited(events, 7, case_id=float("nan")), checkpoints)
    assert report.first_problem.startswith("leaf 7 (event seq 17): event cannot be canonicalised")


def test_empty_log_and_progress(signer: Signer) -> None:
    empty = sign_checkpoint(Checkpoint(ORIGIN, 0, EMPTY_ROOT), signer)
    assert run(signer, [], [empty]).ok
    seen: list[int] = []
    report = verify_log(make_events(3), [], signer.public_key, ORIGIN, progress=seen.append)
    assert report.ok and report.covered == 0 and seen == [3]


def test_a_gap_of_several_leaves_names_the_range(signer: Signer, log: Any) -> None:
    events, checkpoints, _ = log
    report = run(signer, events[:30] + events[34:], checkpoints)
    assert report.first_problem == (
        "leaf 34 (event seq 44): expected leaf_index 30; leaves 30..33 are missing or out "
        "of order")


def test_an_event_without_seq_is_named_by_its_leaf_alone(signer: Signer, log: Any) -> None:
    events, checkpoints, _ = log
    without = copy.deepcopy(events)
    del without[6]["seq"]
    without[6]["case_id"] = float("nan")
    assert run(signer, without, checkpoints).first_problem.startswith(
        "leaf 6: event cannot be canonicalised")
    no_index = edited(events, 8, leaf_index=None, case_id=float("nan"))
    assert run(signer, no_index, checkpoints).first_problem.startswith(
        "event at position 8 (event seq 18) has no integer leaf_index")
    assert any(p.startswith("event at position 8 (event seq 18): event cannot be "
                            "canonicalised") for p in run(signer, no_index, checkpoints).problems)


def test_progress_is_reported_every_so_many_events(signer: Signer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("audit.verify.PROGRESS_EVERY", 4)
    seen: list[int] = []
    verify_log(make_events(10), [], signer.public_key, ORIGIN, progress=seen.append)
    assert seen == [4, 8, 10]
