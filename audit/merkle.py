"""RFC 6962 / RFC 9162 Merkle tree hashing and an append-only node store.

The tree is stored the way Trillian and Tessera store it: only the roots of *perfect*
subtrees are kept, keyed ``(level, index)`` for the subtree covering leaves
``[index * 2**level, (index + 1) * 2**level)``; level 0 holds the leaf hashes. Every such
node is written once, when its last leaf arrives, and never changes. Any other subtree
hash (a root, a proof element) is combined on demand from the O(log n) perfect subtrees
that tile its range, so proofs never re-read the log.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Protocol

__all__ = [
    "EMPTY_ROOT",
    "HASH_SIZE",
    "MemoryNodeStore",
    "MissingNodeError",
    "NodeKey",
    "NodeStore",
    "TreeBuilder",
    "append_leaves",
    "fetch_nodes",
    "fold_subtrees",
    "largest_power_of_two_below",
    "leaf_hash",
    "node_hash",
    "perfect_subtrees",
    "root_at",
    "root_of",
]

HASH_SIZE = 32
EMPTY_ROOT = hashlib.sha256(b"").digest()

NodeKey = tuple[int, int]
"""``(level, index)``: the perfect subtree over leaves [index * 2**level, (index+1) * 2**level)."""

_sha256 = hashlib.sha256


def leaf_hash(data: bytes) -> bytes:
    """Hash a leaf; the 0x00 prefix keeps leaves and interior nodes from colliding."""
    return _sha256(b"\x00" + data).digest()


def node_hash(left: bytes, right: bytes) -> bytes:
    """Hash an interior node from its two children (0x01 prefix, RFC 6962 section 2.1)."""
    return _sha256(b"\x01" + left + right).digest()


def largest_power_of_two_below(n: int) -> int:
    """The split point k of RFC 6962: the largest power of two strictly less than n >= 2."""
    return 1 << ((n - 1).bit_length() - 1)


def root_of(leaf_hashes: Sequence[bytes]) -> bytes:
    """Reference Merkle Tree Hash (RFC 6962 section 2.1), straight from the definition.

    O(n) time and memory: meant for tests and small trees, as the independent oracle that
    the node store and the proofs are checked against.
    """
    n = len(leaf_hashes)
    if n == 0:
        return EMPTY_ROOT
    if n == 1:
        return leaf_hashes[0]
    k = largest_power_of_two_below(n)
    return node_hash(root_of(leaf_hashes[:k]), root_of(leaf_hashes[k:]))


class MissingNodeError(LookupError):
    """The store lacks a node the request needs: the tree has not been built that far."""


class NodeStore(Protocol):
    """Where perfect-subtree hashes live (memory, a database table, files)."""

    def get_nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        """Return the stored hashes for ``keys``; keys not stored are simply absent."""
        ...

    def put_nodes(self, nodes: Mapping[NodeKey, bytes]) -> None:
        """Store new nodes. Nodes are immutable: rewriting one with another hash is a bug."""
        ...


class MemoryNodeStore:
    """In-memory ``NodeStore`` keeping each level as one contiguous ``bytearray``.

    A dict of tuples to bytes costs ~200 bytes a node (4 GB for a 10M-leaf tree); since
    each level only ever grows at its end, packed arrays cost exactly 32 bytes a node.
    """

    def __init__(self) -> None:
        self._levels: list[bytearray] = []

    def get_nodes(self, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
        found: dict[NodeKey, bytes] = {}
        for level, index in keys:
            if 0 <= level < len(self._levels) and index >= 0:
                start = index * HASH_SIZE
                chunk = self._levels[level][start : start + HASH_SIZE]
                if len(chunk) == HASH_SIZE:
                    found[(level, index)] = bytes(chunk)
        return found

    def put_nodes(self, nodes: Mapping[NodeKey, bytes]) -> None:
        # Callers usually write in level/index order; anything else is retried sorted.
        deferred = {key: value for key, value in nodes.items() if not self._put(key, value)}
        for key in sorted(deferred):
            if not self._put(key, deferred[key]):
                raise ValueError(f"node {key} would leave a gap in level {key[0]}")

    def _put(self, key: NodeKey, value: bytes) -> bool:
        """Append or confirm one node; False when an earlier node on its level is missing."""
        level, index = key
        if len(value) != HASH_SIZE or level < 0 or index < 0:
            raise ValueError(f"node {key}: invalid key or hash length {len(value)}")
        while len(self._levels) <= level:
            self._levels.append(bytearray())
        buf = self._levels[level]
        start = index * HASH_SIZE
        if start == len(buf):
            buf += value
        elif start > len(buf):
            return False
        elif buf[start : start + HASH_SIZE] != value:
            raise ValueError(f"node {key} is already stored with a different hash")
        return True


def perfect_subtrees(start: int, end: int) -> list[NodeKey]:
    """Tile leaves [start, end) with the fewest aligned perfect subtrees, left to right.

    This is the "compact range": O(log n) nodes. For any range that is a subtree of the
    RFC 6962 tree (in particular [0, size)) the tiles shrink left to right.
    """
    keys: list[NodeKey] = []
    while start < end:
        level = (end - start).bit_length() - 1
        if start:
            level = min(level, (start & -start).bit_length() - 1)
        keys.append((level, start >> level))
        start += 1 << level
    return keys


def fold_subtrees(hashes: Sequence[bytes]) -> bytes:
    """Combine the shrinking perfect tiles of a subtree range into its Merkle Tree Hash.

    RFC 6962 splits off the largest power of two on the left, so the hash nests to the
    right: H(t0, H(t1, ... H(t[m-2], t[m-1]))).
    """
    if not hashes:
        return EMPTY_ROOT
    acc = hashes[-1]
    for left in reversed(hashes[:-1]):
        acc = node_hash(left, acc)
    return acc


def fetch_nodes(store: NodeStore, keys: Iterable[NodeKey]) -> dict[NodeKey, bytes]:
    """Read nodes in one store round trip, failing loudly if any is missing."""
    wanted = set(keys)
    found = store.get_nodes(wanted)
    missing = wanted - found.keys()
    if missing:
        raise MissingNodeError(f"node store lacks {len(missing)} node(s), e.g. {min(missing)}")
    return found


def root_at(store: NodeStore, size: int) -> bytes:
    """Root hash of the tree of the first ``size`` leaves, from O(log n) stored nodes."""
    if size < 0:
        raise ValueError(f"tree size {size} is negative")
    keys = perfect_subtrees(0, size)
    nodes = fetch_nodes(store, keys)
    return fold_subtrees([nodes[key] for key in keys])


def append_leaves(store: NodeStore, old_size: int, leaf_hashes: Iterable[bytes]) -> int:
    """Integrate a batch of leaf hashes into a tree of ``old_size`` leaves.

    Reads only the O(log n) right-edge nodes, computes every perfect subtree the batch
    completes, level by level, writes them in one ``put_nodes`` call and returns the new
    size. The caller serialises calls (one sequencer) and passes the size it last got.
    """
    level_nodes = list(leaf_hashes)
    if level_nodes and set(map(len, level_nodes)) != {HASH_SIZE}:
        raise ValueError(f"leaf hashes must be {HASH_SIZE} bytes")
    new_size = old_size + len(level_nodes)
    # The tiles of [0, old_size) are the right edge: the only old nodes new ones pair with.
    edge = fetch_nodes(store, perfect_subtrees(0, old_size)) if level_nodes else {}
    out: dict[NodeKey, bytes] = {}
    level, first = 0, old_size
    while level_nodes:
        keys = [(level, index) for index in range(first, first + len(level_nodes))]
        out.update(zip(keys, level_nodes, strict=True))
        if first & 1:  # the new run starts with a right child: pair it with the edge node
            level_nodes.insert(0, edge[(level, first - 1)])
            first -= 1
        # node_hash inlined: this line hashes every interior node a sequencer run writes.
        # An odd last node has no partner yet (strict=False): it waits for the next batch.
        lefts, rights = level_nodes[::2], level_nodes[1::2]
        level_nodes = [_sha256(b"\x01" + a + b).digest()
                       for a, b in zip(lefts, rights, strict=False)]
        level, first = level + 1, first >> 1
    store.put_nodes(out)
    return new_size


class TreeBuilder:
    """A tree size paired with its store, for callers that keep the size in memory."""

    def __init__(self, store: NodeStore, size: int = 0) -> None:
        self.store = store
        self.size = size

    def append(self, leaf_hashes: Iterable[bytes]) -> int:
        """Integrate ``leaf_hashes`` and return the new tree size."""
        self.size = append_leaves(self.store, self.size, leaf_hashes)
        return self.size

    def root(self, size: int | None = None) -> bytes:
        """Root of the current tree, or of an earlier size."""
        return root_at(self.store, self.size if size is None else size)
