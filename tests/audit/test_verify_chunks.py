"""verify_chunks (blocks of leaves hashed by ``hash_chunk``, as `hub audit verify`'s
worker processes do) must reach exactly verify_log's verdict, problem for problem."""

from __future__ import annotations

import base64
import os
from typing import Any

import pytest

from audit import (
    LEAF_META_KEYS,
    CompactRange,
    Signer,
    VerifyReport,
    leaf_hash,
    root_of,
    verify_log,
)
from audit.verify import LeafChunk, hash_chunk, verify_chunks

from .logkit import ORIGIN, make_events, renumber, sign_sizes, with_stored_hashes

N = 100
SIZES = (16, 40, 64, 100)
WITNESS_SIZES = (64, 100)


@pytest.fixture(scope="module")
def signer() -> Signer:
    return Signer.generate(ORIGIN)


@pytest.fixture(scope="module")
def signed(signer: Signer) -> tuple[list[str], list[str]]:
    events = make_events(N)
    return sign_sizes(events, SIZES, signer), sign_sizes(events, WITNESS_SIZES, signer)


def chunks_of(events: list[dict[str, Any]], size: int):
    """What a worker would send for ``events`` split into blocks of ``size`` rows."""
    def read(sizes: list[int]) -> list[LeafChunk]:
        blocks = []
        for start in range(0, max(len(events), 1), size):
            rows = [(e.get("leaf_index"), e.get("seq", e.get("event_seq")),
                     e.get("stored_leaf_hash"),
                     {k: v for k, v in e.items() if k not in LEAF_META_KEYS}, None)
                    for e in events[start:start + size]]
            blocks.append(hash_chunk(start, rows, sizes))
        return blocks
    return read


def both(signer: Signer, events, checkpoints, witness=()) -> VerifyReport:
    expected = verify_log(events, checkpoints, signer.public_key, signer.name, witness=witness)
    for size in (1, 8, 16, 64, 1024):
        got = verify_chunks(chunks_of(events, size), checkpoints, signer.public_key,
                            signer.name, witness=witness)
        assert got == expected, size
    return expected


def tampered_logs() -> dict[str, list[dict[str, Any]]]:
    events = with_stored_hashes(make_events(N))
    edited = [dict(e) for e in events]
    edited[41]["username"] = "someone.else"
    forged_hash = [dict(e) for e in events]
    forged_hash[41]["stored_leaf_hash"] = base64.b64encode(leaf_hash(b"forged")).decode()
    unstored = [dict(e) for e in make_events(N)]
    unstored[41]["outcome"] = "denied"
    swapped = [dict(e) for e in events]
    for key in events[0]:
        if key != "leaf_index":
            swapped[50][key], swapped[51][key] = swapped[51][key], swapped[50][key]
    inserted = [*events[:20], {**events[20], "username": "intruder"}, *events[20:]]
    odd = [dict(e) for e in events]
    odd[5]["leaf_index"] = "5"
    odd[7]["case_id"] = float("nan")
    tail = with_stored_hashes(make_events(N + 5))
    tail[102]["action"] = "case:delete"
    return {
        "intact": events, "edited": edited, "stored hash forged": forged_hash,
        "no stored hashes": unstored, "deleted": events[:30] + events[31:],
        "deleted and renumbered": renumber(events[:30] + events[31:]),
        "inserted": inserted, "inserted and renumbered": renumber(inserted),
        "swapped rows": [*events[:50], events[51], events[50], *events[52:]],
        "swapped contents": swapped, "truncated": events[:90], "odd values": odd,
        "changed unsigned tail": tail, "empty": [],
    }


@pytest.mark.parametrize("name", list(tampered_logs()))
def test_same_verdict_as_verify_log(signer: Signer, signed, name: str) -> None:
    checkpoints, witness = signed
    report = both(signer, tampered_logs()[name], checkpoints, witness)
    assert report.ok == (name == "intact")


def test_intact_blocks_are_taken_as_subtrees(signer: Signer, signed) -> None:
    """The verifier must not need an intact block's leaves: blank them and it still agrees."""
    checkpoints, witness = signed
    events = with_stored_hashes(make_events(N))

    def hollow(sizes: list[int]) -> list[LeafChunk]:
        blocks = chunks_of(events, 16)(sizes)
        assert all(block.intact for block in blocks)
        for block in blocks:
            block.digests = b""
        return blocks

    report = verify_chunks(hollow, checkpoints, signer.public_key, signer.name, witness=witness)
    assert report.ok and report.checkpoints_checked == 6 and report.covered == N


def test_a_block_not_at_the_tree_end_goes_leaf_by_leaf(signer: Signer, signed) -> None:
    checkpoints, _ = signed
    events = with_stored_hashes(make_events(N))
    report = both(signer, events[:30] + events[31:], checkpoints)
    assert report.first_problem == (
        "leaf 31 (event seq 41): expected leaf_index 30; leaf 30 is missing or out of order")
    assert report.checkpoints_checked == 3  # sizes 16, 40, 64: the log now ends at 99


@pytest.mark.parametrize(("start", "count"), [(0, 1), (0, 7), (8, 8), (16, 5), (64, 64),
                                              (96, 3), (128, 100)])
def test_compact_ranges_join_like_the_whole_tree(start: int, count: int) -> None:
    leaves = [os.urandom(32) for _ in range(start + count)]
    head, tail = CompactRange(), CompactRange()
    for leaf in leaves[:start]:
        head.append(leaf)
    for leaf in leaves[start:]:
        tail.append(leaf)
    assert head.root_with(tail) == root_of(leaves)
    assert head.size == start  # root_with leaves it alone
    head.extend(tail)
    assert (head.size, head.root()) == (start + count, root_of(leaves))


def test_a_subtree_must_be_aligned() -> None:
    tree = CompactRange()
    tree.append(os.urandom(32))
    with pytest.raises(ValueError, match="cannot start at leaf 1"):
        tree.append_subtree(1, os.urandom(32))
