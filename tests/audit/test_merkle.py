"""The node store, tree building and proof generation, checked against the reference
``root_of`` and the RFC 9162 verifiers."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit import (
    EMPTY_ROOT,
    MemoryNodeStore,
    MissingNodeError,
    NodeKey,
    ProofError,
    TreeBuilder,
    append_leaves,
    consistency_proof,
    inclusion_proof,
    leaf_hash,
    node_hash,
    perfect_subtrees,
    root_at,
    root_of,
    verify_consistency,
    verify_inclusion,
)
from audit.verify import CompactRange

SETTINGS = settings(max_examples=60, deadline=None)


def leaves(n: int, salt: int = 0) -> list[bytes]:
    return [leaf_hash(f"{salt}:{i}".encode()) for i in range(n)]


class CountingStore:
    """A plain-dict store that records how many nodes each call reads."""

    def __init__(self) -> None:
        self.nodes: dict[NodeKey, bytes] = {}
        self.reads: list[int] = []

    def get_nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        keys = list(keys)
        self.reads.append(len(keys))
        return {k: self.nodes[k] for k in keys if k in self.nodes}

    def put_nodes(self, nodes: Mapping[NodeKey, bytes]) -> None:
        self.nodes.update(nodes)


def build(hashes: list[bytes], cuts: Iterable[int] = ()) -> MemoryNodeStore:
    """A store holding ``hashes``, appended in batches split at ``cuts``."""
    store, size = MemoryNodeStore(), 0
    for end in [*sorted(set(cuts)), len(hashes)]:
        size = append_leaves(store, size, hashes[size:end])
    return store


sizes = st.integers(min_value=1, max_value=300)


# --- hashing basics --------------------------------------------------------------


def test_rfc6962_known_answers() -> None:
    # RFC 6962 test tree over the 8 leaves used by the vectors in testdata/.
    data = [b"", b"\x00", b"\x10", b"\x20\x21", b"\x30\x31", b"\x40\x41\x42\x43",
            b"\x50\x51\x52\x53\x54\x55\x56\x57",
            b"\x60\x61\x62\x63\x64\x65\x66\x67\x68\x69\x6a\x6b\x6c\x6d\x6e\x6f"]  # fmt: skip
    hashes = [leaf_hash(d) for d in data]
    assert root_of([]) == EMPTY_ROOT == hashlib.sha256().digest()
    assert root_of(hashes[:1]).hex().startswith("6e340b9c")
    assert root_of(hashes).hex() == (
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328"
    )
    assert root_at(build(hashes), 8) == root_of(hashes)


def test_perfect_subtrees_tile_the_range() -> None:
    assert perfect_subtrees(0, 0) == []
    assert perfect_subtrees(0, 13) == [(3, 0), (2, 2), (0, 12)]
    assert perfect_subtrees(3, 9) == [(0, 3), (2, 1), (0, 8)]


# --- the store against the reference -----------------------------------------------


@SETTINGS
@given(n=sizes, data=st.data())
def test_batched_store_gives_reference_roots(n: int, data: st.DataObject) -> None:
    hashes = leaves(n)
    cuts = data.draw(st.lists(st.integers(0, n), max_size=12))
    store = build(hashes, cuts)
    for size in {0, 1, n, *data.draw(st.lists(st.integers(0, n), max_size=5))}:
        assert root_at(store, size) == root_of(hashes[:size])


@SETTINGS
@given(n=st.integers(1, 120), cuts=st.lists(st.integers(0, 120), max_size=10))
def test_batched_store_equals_leaf_by_leaf_store(n: int, cuts: list[int]) -> None:
    hashes = leaves(n)
    batched = build(hashes, [c for c in cuts if c <= n])
    one_by_one = build(hashes, range(n))
    keys = [(level, i) for level in range(n.bit_length()) for i in range(n >> level)]
    assert batched.get_nodes(keys) == one_by_one.get_nodes(keys)
    assert len(batched.get_nodes(keys)) == len(keys)
    assert all(root_at(batched, s) == root_at(one_by_one, s) for s in range(n + 1))


def test_tree_builder_tracks_size_and_roots() -> None:
    hashes = leaves(37)
    tree = TreeBuilder(MemoryNodeStore())
    assert tree.root() == EMPTY_ROOT
    assert tree.append(hashes[:20]) == 20
    assert tree.append([]) == 20
    assert tree.append(hashes[20:]) == 37
    assert tree.root() == root_of(hashes)
    assert tree.root(20) == root_of(hashes[:20])


def test_compact_range_matches_reference() -> None:
    hashes, compact = leaves(70), CompactRange()
    assert compact.root() == EMPTY_ROOT
    for i, h in enumerate(hashes, 1):
        compact.append(h)
        assert compact.root() == root_of(hashes[:i])
        assert len(compact._stack) == bin(i).count("1")  # O(log n) memory


def test_append_reads_only_the_right_edge() -> None:
    store, hashes = CountingStore(), leaves(1000)
    size = append_leaves(store, 0, hashes[:999])
    store.reads.clear()
    append_leaves(store, size, hashes[999:])
    assert store.reads == [bin(999).count("1")]
    assert root_at(store, 1000) == root_of(hashes)


def test_proofs_read_logarithmically_many_nodes() -> None:
    store = CountingStore()
    append_leaves(store, 0, leaves(1000))
    store.reads.clear()
    inclusion_proof(store, 517, 999)
    consistency_proof(store, 333, 999)
    root_at(store, 999)
    assert store.reads and max(store.reads) <= 2 * 10 + 2


def test_memory_store_rejects_gaps_and_rewrites() -> None:
    store = MemoryNodeStore()
    store.put_nodes({(0, 1): b"b" * 32, (0, 0): b"a" * 32})  # out of order is fine
    store.put_nodes({(0, 0): b"a" * 32})  # rewriting the same hash is idempotent
    with pytest.raises(ValueError, match="different hash"):
        store.put_nodes({(0, 0): b"c" * 32})
    with pytest.raises(ValueError, match="gap"):
        store.put_nodes({(0, 5): b"d" * 32})
    with pytest.raises(ValueError):
        store.put_nodes({(0, 2): b"short"})
    assert store.get_nodes([(0, 0), (0, 2), (1, 0), (-1, 0), (0, -1)]) == {(0, 0): b"a" * 32}


def test_missing_nodes_are_reported() -> None:
    store = build(leaves(5))
    with pytest.raises(MissingNodeError):
        root_at(store, 6)
    with pytest.raises(MissingNodeError):
        append_leaves(MemoryNodeStore(), 5, leaves(1))
    with pytest.raises(ValueError, match="32 bytes"):
        append_leaves(store, 5, [b"short"])
    with pytest.raises(ValueError):
        root_at(store, -1)


# --- proofs from the store against the reference -------------------------------------


@SETTINGS
@given(n=sizes, data=st.data())
def test_inclusion_proofs_verify(n: int, data: st.DataObject) -> None:
    hashes = leaves(n, salt=n)
    store = build(hashes, data.draw(st.lists(st.integers(0, n), max_size=6)))
    size = data.draw(st.integers(1, n))
    index = data.draw(st.integers(0, size - 1))
    root = root_of(hashes[:size])
    proof = inclusion_proof(store, index, size)
    verify_inclusion(hashes[index], index, size, proof, root)
    if size > 1:
        other = data.draw(st.integers(0, size - 1).filter(lambda i: i != index))
        with pytest.raises(ProofError):
            verify_inclusion(hashes[other], index, size, proof, root)


@SETTINGS
@given(n=sizes, data=st.data())
def test_consistency_proofs_verify(n: int, data: st.DataObject) -> None:
    hashes = leaves(n, salt=n)
    store = build(hashes, data.draw(st.lists(st.integers(0, n), max_size=6)))
    second = data.draw(st.integers(1, n))
    first = data.draw(st.integers(1, second))
    proof = consistency_proof(store, first, second)
    verify_consistency(first, second, root_of(hashes[:first]), root_of(hashes[:second]), proof)


@SETTINGS
@given(n=st.integers(2, 300), data=st.data())
def test_tampered_inclusion_proof_fails(n: int, data: st.DataObject) -> None:
    hashes = leaves(n)
    store = build(hashes)
    index = data.draw(st.integers(0, n - 1))
    proof = inclusion_proof(store, index, n)
    tampered = _flip_a_bit(proof, data)
    with pytest.raises(ProofError):
        verify_inclusion(hashes[index], index, n, tampered, root_of(hashes))


@SETTINGS
@given(n=st.integers(2, 300), data=st.data())
def test_tampered_consistency_proof_fails(n: int, data: st.DataObject) -> None:
    hashes = leaves(n)
    store = build(hashes)
    first = data.draw(st.integers(1, n - 1))
    proof = consistency_proof(store, first, n)
    tampered = _flip_a_bit(proof, data)
    with pytest.raises(ProofError):
        verify_consistency(first, n, root_of(hashes[:first]), root_of(hashes), tampered)


def _flip_a_bit(proof: list[bytes], data: st.DataObject) -> list[bytes]:
    which = data.draw(st.integers(0, len(proof) - 1))
    bit = data.draw(st.integers(0, 255))
    element = bytearray(proof[which])
    element[bit // 8] ^= 1 << (bit % 8)
    return [*proof[:which], bytes(element), *proof[which + 1 :]]


def test_proof_shape_errors() -> None:
    hashes = leaves(10)
    store, root = build(hashes), root_of(hashes)
    proof = inclusion_proof(store, 3, 10)
    for bad in (proof[:-1], [*proof, proof[0]], [proof[0][:31], *proof[1:]]):
        with pytest.raises(ProofError):
            verify_inclusion(hashes[3], 3, 10, bad, root)
    with pytest.raises(ProofError, match="negative"):
        verify_inclusion(hashes[3], -1, 10, proof, root)
    with pytest.raises(ProofError, match="not less than"):
        verify_inclusion(hashes[3], 10, 10, proof, root)
    with pytest.raises(ValueError):
        inclusion_proof(store, 10, 10)
    for first, second in ((0, 5), (6, 5)):
        with pytest.raises(ValueError):
            consistency_proof(store, first, second)
    assert consistency_proof(store, 7, 7) == []


def test_consistency_edge_cases() -> None:
    hashes = leaves(8)
    r4, r8 = root_of(hashes[:4]), root_of(hashes)
    verify_consistency(0, 0, EMPTY_ROOT, EMPTY_ROOT, [])
    verify_consistency(8, 8, r8, r8, [])
    cases = [
        ((9, 8, r8, r8, []), "larger"),
        ((8, 8, r8, r8, [r4]), "must be empty"),
        ((8, 8, r4, r8, []), "forked"),
        ((0, 0, r8, r8, []), "empty tree"),
        ((0, 8, EMPTY_ROOT, r8, []), "empty tree"),
        ((-1, 8, r4, r8, []), "negative"),
        ((4, 8, r4, r8, []), "expected 1"),
        ((4, 8, r4[:5], r8, [node_hash(r4, r4)]), "first root"),
    ]
    for args, message in cases:
        with pytest.raises(ProofError, match=message):
            verify_consistency(*args)
