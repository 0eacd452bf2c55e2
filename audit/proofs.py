"""Inclusion and consistency proofs: generated from a node store, verified per RFC 9162.

Generation walks the RFC 6962 recursion (PATH and SUBPROOF, RFC 9162 section 2.1.3.1 and
2.1.4.1) as a loop, collects the subtree ranges whose hashes the proof needs, and fetches
the O(log n) perfect nodes tiling those ranges in one store round trip.

Verification follows RFC 9162 section 2.1.3.2 and 2.1.4.2 step by step; it needs nothing
but ``hashlib``, so an auditor can run it without the hub.
"""

from __future__ import annotations

import hmac
from collections.abc import Sequence

from .merkle import (
    EMPTY_ROOT,
    HASH_SIZE,
    NodeStore,
    fetch_nodes,
    fold_subtrees,
    largest_power_of_two_below,
    node_hash,
    perfect_subtrees,
)

__all__ = [
    "ProofError",
    "consistency_proof",
    "inclusion_proof",
    "verify_consistency",
    "verify_inclusion",
]

Range = tuple[int, int]


class ProofError(ValueError):
    """A proof does not verify; the message says which check failed."""


# --- generation -------------------------------------------------------------------


def _inclusion_ranges(index: int, size: int) -> list[Range]:
    """Leaf ranges of the sibling subtrees on the path from leaf ``index``, bottom up."""
    ranges: list[Range] = []
    lo, hi = 0, size
    while hi - lo > 1:
        mid = lo + largest_power_of_two_below(hi - lo)
        if index < mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            lo = mid
    return ranges[::-1]


def _consistency_ranges(first: int, second: int) -> list[Range]:
    """Leaf ranges of the subtrees in SUBPROOF(first, D[0:second], true), in proof order."""
    ranges: list[Range] = []
    lo, hi, m, whole = 0, second, first, True
    while m != hi - lo:
        mid = lo + largest_power_of_two_below(hi - lo)
        if lo + m <= mid:
            ranges.append((mid, hi))
            hi = mid
        else:
            ranges.append((lo, mid))
            m, lo, whole = m - (mid - lo), mid, False
    if not whole:  # the old tree's root is itself a subtree: the verifier needs it
        ranges.append((lo, hi))
    return ranges[::-1]


def _range_hashes(store: NodeStore, ranges: Sequence[Range]) -> list[bytes]:
    """Merkle Tree Hash of each subtree range, from one batched store read."""
    tiles = [perfect_subtrees(lo, hi) for lo, hi in ranges]
    nodes = fetch_nodes(store, (key for keys in tiles for key in keys))
    return [fold_subtrees([nodes[key] for key in keys]) for keys in tiles]


def inclusion_proof(store: NodeStore, index: int, size: int) -> list[bytes]:
    """Audit path for leaf ``index`` in the tree of ``size`` leaves (RFC 9162 2.1.3.1)."""
    if not 0 <= index < size:
        raise ValueError(f"leaf index {index} is not in a tree of size {size}")
    return _range_hashes(store, _inclusion_ranges(index, size))


def consistency_proof(store: NodeStore, first: int, second: int) -> list[bytes]:
    """Proof that the tree of ``second`` leaves extends that of ``first`` (RFC 9162 2.1.4.1)."""
    if not 0 < first <= second:
        raise ValueError(f"no consistency proof from size {first} to size {second}")
    return _range_hashes(store, _consistency_ranges(first, second))


# --- verification -----------------------------------------------------------------


def _check_hash(what: str, value: bytes) -> None:
    if len(value) != HASH_SIZE:
        raise ProofError(f"{what} is {len(value)} bytes, expected {HASH_SIZE}")


def _check_proof(proof: Sequence[bytes], expected_len: int, context: str) -> None:
    """Reject wrong-length proofs up front, so the error says so plainly."""
    if len(proof) != expected_len:
        raise ProofError(f"proof has {len(proof)} hashes, expected {expected_len} {context}")
    for i, element in enumerate(proof):
        _check_hash(f"proof element {i}", element)


def _same(a: bytes, b: bytes) -> bool:
    return hmac.compare_digest(a, b)


def verify_inclusion(
    leaf_hash: bytes, index: int, size: int, proof: Sequence[bytes], root: bytes
) -> None:
    """Check that ``leaf_hash`` is leaf ``index`` of the tree of ``size`` with ``root``.

    Raises ``ProofError`` naming the failed check; returns ``None`` when the proof holds.
    """
    if index < 0 or size < 0:
        raise ProofError(f"leaf index {index} and tree size {size} must not be negative")
    if index >= size:
        raise ProofError(f"leaf index {index} is not less than tree size {size}")
    _check_hash("leaf hash", leaf_hash)
    _check_hash("root hash", root)
    _check_proof(proof, len(_inclusion_ranges(index, size)), f"for leaf {index} of {size}")
    fn, sn, r = index, size - 1, leaf_hash
    for p in proof:
        if sn == 0:
            raise ProofError("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            r = node_hash(p, r)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            r = node_hash(r, p)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("proof is shorter than the path to the root")
    if not _same(r, root):
        raise ProofError(f"leaf {index} with this proof does not lead to the root of size {size}")


def verify_consistency(
    first: int, second: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Check that the tree (``second``, ``second_root``) extends (``first``, ``first_root``).

    Raises ``ProofError`` naming the failed check; returns ``None`` when the proof holds.
    """
    if first < 0 or second < 0:
        raise ProofError(f"tree sizes {first} and {second} must not be negative")
    if first > second:
        raise ProofError(f"first tree size {first} is larger than second tree size {second}")
    if first == second:
        _verify_same_size(first, first_root, second_root, proof)
        return
    if first == 0:
        raise ProofError("first tree size is 0: every tree extends the empty tree")
    _check_hash("first root", first_root)
    _check_hash("second root", second_root)
    _check_proof(proof, len(_consistency_ranges(first, second)), f"from {first} to {second}")
    fr, sr = _consistency_roots(first, second, first_root, proof)
    if not _same(fr, first_root):
        raise ProofError(f"proof does not lead to the root of size {first}")
    if not _same(sr, second_root):
        raise ProofError(f"proof does not lead to the root of size {second}")


def _verify_same_size(
    size: int, first_root: bytes, second_root: bytes, proof: Sequence[bytes]
) -> None:
    """Equal sizes: nothing to prove but that the roots agree (and the empty tree's is fixed)."""
    if proof:
        raise ProofError(f"both trees have size {size}, so the proof must be empty")
    if size == 0 and not _same(first_root, EMPTY_ROOT):
        raise ProofError("root of the empty tree must be SHA-256 of the empty string")
    if not _same(first_root, second_root):
        raise ProofError(f"two different roots for the same tree size {size}: the log forked")


def _consistency_roots(
    first: int, second: int, first_root: bytes, proof: Sequence[bytes]
) -> tuple[bytes, bytes]:
    """Steps 2 to 6 of RFC 9162 2.1.4.2: recompute both roots from the proof."""
    path = list(proof)
    if first & (first - 1) == 0:  # a perfect old tree is a subtree of the new one
        path.insert(0, first_root)
    fn, sn = first - 1, second - 1
    while fn & 1:
        fn, sn = fn >> 1, sn >> 1
    fr = sr = path[0]
    for c in path[1:]:
        if sn == 0:
            raise ProofError("proof is longer than the path to the root")
        if fn & 1 or fn == sn:
            fr, sr = node_hash(c, fr), node_hash(c, sr)
            while not fn & 1 and fn:
                fn, sn = fn >> 1, sn >> 1
        else:
            sr = node_hash(sr, c)
        fn, sn = fn >> 1, sn >> 1
    if sn != 0:
        raise ProofError("proof is shorter than the path to the root")
    return fr, sr
