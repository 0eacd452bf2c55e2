"""Offline verification of a whole audit log against its signed checkpoints.

The verifier trusts nothing but the public key: it recomputes every leaf hash from the
event itself, rebuilds the tree incrementally in O(log n) memory, and requires every
checkpoint (the hub's own and any witness copies) to carry a valid signature and to match
the recomputed root at its size. Problems are reported in log order, so the first one is
the earliest point where the log stops being what was signed.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .canonical import CanonicalizationError, canonical_bytes
from .merkle import EMPTY_ROOT, HASH_SIZE, fold_subtrees, leaf_hash, node_hash
from .note import Checkpoint, NoteError, open_checkpoint

__all__ = [
    "LEAF_META_KEYS",
    "CompactRange",
    "LeafChunk",
    "VerifyReport",
    "event_leaf_hash",
    "hash_chunk",
    "verify_chunks",
    "verify_log",
]

LEAF_META_KEYS = frozenset({"leaf_index", "stored_leaf_hash", "event_seq"})
"""Keys describing where an event sits in the tree or its database, not what happened:
never hashed. ``event_seq`` carries an event's database id where the leaf does not cover
it (an event that has ``seq`` instead has its id hashed, as the hub's first leaves did)."""

_STAND_IN = leaf_hash(b"")
"""Hashed in place of an event that cannot be read: no event's leaf (a JSON object) has it."""

PROGRESS_EVERY = 100_000
MAX_REPORTED = 1000


def event_leaf_hash(event: Mapping[str, Any]) -> bytes:
    """The Merkle leaf hash of an audit event: SHA-256(0x00 || RFC 8785 JSON of the event).

    The single definition shared by the hub (when it integrates events) and the auditor
    (when it re-derives them). The tree position (``leaf_index``) and any stored copy of
    the hash are left out, since they are assigned after the event is written.
    """
    if type(event) is not dict or not LEAF_META_KEYS.isdisjoint(event):
        event = {key: value for key, value in event.items() if key not in LEAF_META_KEYS}
    return leaf_hash(canonical_bytes(event))


class CompactRange:
    """The right edge of a growing tree: one hash per set bit of its size.

    Appending a leaf merges equal-sized perfect subtrees like a binary counter, so the
    whole log can be hashed in O(log n) memory. Whole perfect subtrees can be appended
    too, at a size they are aligned to, which lets a verifier take a block of leaves
    hashed elsewhere (another process) as a handful of subtree hashes.
    """

    def __init__(self) -> None:
        self.size = 0
        self._stack: list[bytes] = []

    def append(self, leaf: bytes) -> None:
        self._stack.append(leaf)
        self.size += 1
        carry = self.size
        while not carry & 1:
            right = self._stack.pop()
            self._stack[-1] = node_hash(self._stack[-1], right)
            carry >>= 1

    def append_subtree(self, level: int, digest: bytes) -> None:
        """Append the perfect subtree of 2**level leaves whose root is ``digest``."""
        if self.size & ((1 << level) - 1):
            raise ValueError(f"a level-{level} subtree cannot start at leaf {self.size}")
        self._stack.append(digest)
        self.size += 1 << level
        carry = self.size >> level
        while not carry & 1:
            right = self._stack.pop()
            self._stack[-1] = node_hash(self._stack[-1], right)
            carry >>= 1

    def extend(self, other: CompactRange) -> None:
        """Append the leaves ``other`` holds, given only its subtree hashes."""
        for level, digest in zip(_set_bits(other.size), other.tiles(), strict=True):
            self.append_subtree(level, digest)

    def copy(self) -> CompactRange:
        twin = CompactRange()
        twin.size, twin._stack = self.size, list(self._stack)
        return twin

    def tiles(self) -> list[bytes]:
        """The perfect-subtree hashes, largest first (a copy)."""
        return list(self._stack)

    def root(self) -> bytes:
        return fold_subtrees(self._stack) if self._stack else EMPTY_ROOT

    def root_with(self, other: CompactRange) -> bytes:
        """Root of this tree followed by the leaves of ``other``, without changing either."""
        joined = self.copy()
        joined.extend(other)
        return joined.root()


def _set_bits(n: int) -> list[int]:
    """Levels of the perfect subtrees in a tree of ``n`` leaves, largest first."""
    return [bit for bit in range(n.bit_length() - 1, -1, -1) if n >> bit & 1]


@dataclass
class VerifyReport:
    """Outcome of ``verify_log``; ``problems`` are in log order, earliest first."""

    leaves: int = 0
    checkpoints_checked: int = 0
    problems: list[str] = field(default_factory=list)
    covered: int = 0
    """Size of the largest checkpoint that matched: leaves beyond it are not yet signed."""

    @property
    def ok(self) -> bool:
        return not self.problems

    @property
    def first_problem(self) -> str | None:
        return self.problems[0] if self.problems else None


@dataclass(frozen=True)
class _Target:
    """A verified checkpoint waiting for the recomputed tree to reach its size."""

    checkpoint: Checkpoint
    source: str

    @property
    def size(self) -> int:
        return self.checkpoint.size


def _label(position: int, index: Any, seq: Any) -> str:
    """How problems name a leaf: by its leaf_index, else by its position in the input."""
    seq_text = f" (event seq {seq})" if seq is not None else ""
    if not _is_index(index):
        return f"event at position {position}{seq_text}"
    return f"leaf {index}{seq_text}"


def _is_index(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


class _LogVerifier:
    """State of one pass over the leaves; each method handles one kind of check."""

    def __init__(self, targets: list[_Target], problems: list[tuple[int, str]]) -> None:
        # Largest first, so pop() takes the smallest; on equal sizes the hub's own first.
        self.targets = sorted(targets, key=lambda t: t.size)[::-1]
        self.problems = problems
        self.tree = CompactRange()
        self.expected_index = 0
        self.last_good_size = 0
        self.stored_mismatches: list[tuple[int, str]] = []
        self.checked = 0

    def add(self, position: int, message: str) -> None:
        self.problems.append((position, message))

    def event(self, event: Mapping[str, Any]) -> None:
        """One event as exported: its fields, its leaf_index and perhaps its stored hash."""
        index, seq = event.get("leaf_index"), event.get("seq", event.get("event_seq"))
        problem = None
        try:
            digest = event_leaf_hash(event)
        except CanonicalizationError as exc:
            label = _label(self.tree.size, index, seq)
            problem, digest = f"{label}: event cannot be canonicalised ({exc})", _STAND_IN
        stored_ok = None
        if "stored_leaf_hash" in event:
            stored = _as_hash_bytes(event["stored_leaf_hash"])
            stored_ok = stored is not None and hmac.compare_digest(stored, digest)
        self.leaf(index, seq, digest, stored_ok, problem)

    def leaf(self, index: Any, seq: Any, digest: bytes, stored_ok: bool | None,
             problem: str | None = None) -> None:
        """One leaf, already hashed: ``stored_ok`` says whether the hash stored for it
        matched (None: no stored hash); ``problem`` is what went wrong reading it."""
        position = self.tree.size
        label = self.check_index(position, index, seq)
        if problem is not None:
            self.add(position, problem)
        if stored_ok is False:
            self.stored_mismatches.append((position, label))
        self.tree.append(digest)
        self.reach_checkpoints()

    def chunk(self, chunk: LeafChunk) -> None:
        """A block of leaves hashed by ``hash_chunk``. An intact block that starts where
        the tree ends is taken as its subtree hashes; any other goes leaf by leaf."""
        if chunk.intact and chunk.start == self.tree.size == self.expected_index:
            self.intact_chunk(chunk)
            return
        for offset, index in enumerate(chunk.indexes):
            digest = chunk.digests[offset * HASH_SIZE : (offset + 1) * HASH_SIZE]
            self.leaf(index, chunk.seqs[offset], digest,
                      offset not in chunk.stored_mismatches, chunk.problems.get(offset))

    def intact_chunk(self, chunk: LeafChunk) -> None:
        end = chunk.start + len(chunk.indexes)
        while self.targets and self.targets[-1].size <= end:
            target = self.targets.pop()
            self.check_checkpoint(target, self.tree.root_with(chunk.ranges[target.size]))
        self.tree.extend(chunk.ranges[end])
        self.expected_index = end

    def check_index(self, position: int, index: Any, seq: Any) -> str:
        """Leaf indexes must run 0, 1, 2, ...; returns the label naming this leaf."""
        label = _label(position, index, seq)
        if not _is_index(index):
            self.add(position, f"{label} has no integer leaf_index")
            return label
        expected = self.expected_index
        if index > expected:
            gap = (
                f"leaf {expected} is"
                if index == expected + 1
                else f"leaves {expected}..{index - 1} are"
            )
            self.add(
                position, f"{label}: expected leaf_index {expected}; {gap} missing or out of order"
            )
        elif index < expected:
            self.add(
                position,
                f"{label}: leaf_index repeats or goes backwards (expected {expected}): "
                "an event was duplicated, inserted or reordered",
            )
        self.expected_index = max(self.expected_index, index + 1)
        return label

    def reach_checkpoints(self) -> None:
        while self.targets and self.targets[-1].size == self.tree.size:
            self.check_checkpoint(self.targets.pop(), self.tree.root())

    def check_checkpoint(self, target: _Target, root: bytes) -> None:
        """A stored hash that differs pins the change to its leaf; the checkpoint then
        tells whether the event or the stored hash was altered."""
        size, what = target.size, f"{target.source} at size {target.size}"
        self.checked += 1
        if hmac.compare_digest(root, target.checkpoint.root_hash):
            for position, label in self.stored_mismatches:
                self.add(
                    position,
                    f"{label}: stored leaf hash was altered (the event "
                    f"itself still matches {what})",
                )
            self.last_good_size = size
        elif self.stored_mismatches:
            for position, label in self.stored_mismatches:
                self.add(position, f"{label}: hash does not match {what}")
        else:
            self.add(
                size - 1,
                f"{what}: root does not match the log; an event among leaves "
                f"{self.last_good_size}..{size - 1} was changed, inserted or removed",
            )
        self.stored_mismatches.clear()

    def finish(self) -> None:
        """Checkpoints beyond the end of the log mean the log lost its tail."""
        for position, label in self.stored_mismatches:
            self.add(
                position,
                f"{label}: hash does not match its stored leaf hash (no checkpoint covers it yet)",
            )
        for target in reversed(self.targets):
            self.add(
                self.tree.size,
                f"log has {self.tree.size} leaves but {target.source} "
                f"says {target.size}: the log was truncated",
            )


# --- verifying in parallel: blocks of leaves hashed by workers --------------------------


@dataclass
class LeafChunk:
    """A block of consecutive rows of the log, hashed by ``hash_chunk`` (in any process).

    ``digests`` holds each row's recomputed leaf hash (32 bytes each). When the block is
    ``intact`` (leaf indexes run on from ``start``, every event was read and hashed, every
    stored hash matched), ``ranges`` holds the perfect subtrees of the block's leaves up to
    each tree size the verifier asked about and up to the block's end: enough to check
    checkpoints and carry the tree on without touching a single leaf again.
    """

    start: int
    indexes: list[Any]
    seqs: list[Any]
    digests: bytes
    stored_mismatches: set[int]
    problems: dict[int, str]
    ranges: dict[int, CompactRange]

    @property
    def intact(self) -> bool:
        return bool(self.ranges)


ChunkRow = tuple[Any, Any, Any, "Mapping[str, Any] | bytes | None", "str | None"]
"""``(leaf_index, seq, stored_hash, event, problem)``: ``event`` is the hashed content, or
its RFC 8785 bytes (None when it cannot be read, with ``problem`` saying why);
``stored_hash`` is raw or base64, None if there is none to compare."""


def hash_chunk(start: int, rows: Iterable[ChunkRow], sizes: Iterable[int]) -> LeafChunk:
    """Hash one block of leaves, ``rows`` in leaf order, the first meant to be ``start``.

    ``sizes`` are the tree sizes the verifier will check (every checkpoint's): for those
    inside the block, the block's subtrees up to that size are kept. ``start`` must be a
    multiple of a power of two at least as large as the block, so that the block's
    subtrees are subtrees of the whole tree.
    """
    wanted = sorted(size for size in set(sizes) if size > start)
    wanted.reverse()
    tree, ranges = CompactRange(), {}
    indexes, seqs, digests = [], [], bytearray()
    mismatches: set[int] = set()
    problems: dict[int, str] = {}
    intact = True
    for offset, (index, seq, stored, event, problem) in enumerate(rows):
        if event is None:
            digest = _STAND_IN
            problems[offset] = problem or f"{_label(start + offset, index, seq)}: unreadable"
        elif type(event) is bytes:  # the caller canonicalised it already
            digest = leaf_hash(event)
        else:
            try:
                digest = event_leaf_hash(event)
            except CanonicalizationError as exc:
                digest = _STAND_IN
                label = _label(start + offset, index, seq)
                problems[offset] = f"{label}: event cannot be canonicalised ({exc})"
        if stored is not None and _as_hash_bytes(stored) != digest:
            mismatches.add(offset)
        if type(index) is not int or index != start + offset:
            intact = False
        indexes.append(index)
        seqs.append(seq)
        digests += digest
        tree.append(digest)
        while wanted and wanted[-1] == start + tree.size:
            wanted.pop()
            ranges[start + tree.size] = tree.copy()
    if intact and not mismatches and not problems:
        ranges[start + tree.size] = tree
    else:
        ranges = {}
    return LeafChunk(start, indexes, seqs, bytes(digests), mismatches, problems, ranges)


def _as_hash_bytes(value: Any) -> bytes | None:
    """Stored leaf hashes arrive as raw bytes or, from JSON, as base64 text."""
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value)
    try:
        return base64.b64decode(value, validate=True)
    except (binascii.Error, ValueError, TypeError):
        return None


def _open_all(
    notes: Iterable[str | bytes],
    source: str,
    public_key: bytes,
    key_name: str,
    problems: list[tuple[int, str]],
) -> list[_Target]:
    """Open every note; a note that fails is a problem placed before any leaf."""
    targets = []
    for number, note in enumerate(notes, 1):
        try:
            targets.append(_Target(open_checkpoint(note, public_key, key_name), source))
        except NoteError as exc:
            problems.append((-1, f"{source} #{number}: {exc}"))
    return targets


def verify_log(
    events: Iterable[Mapping[str, Any]],
    checkpoints: Iterable[str | bytes],
    public_key: bytes,
    key_name: str,
    *,
    witness: Iterable[str | bytes] = (),
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """Re-derive the log from ``events`` (in leaf order) and check it against every
    signed checkpoint and witness checkpoint. Never raises for a bad log: the report says
    what is wrong, earliest first."""
    verifier = _start(checkpoints, public_key, key_name, witness)
    for event in events:
        verifier.event(event)
        if progress is not None and verifier.tree.size % PROGRESS_EVERY == 0:
            progress(verifier.tree.size)
    verifier.finish()
    if progress is not None:
        progress(verifier.tree.size)
    return _report(verifier)


def verify_chunks(
    read_chunks: Callable[[list[int]], Iterable[LeafChunk]],
    checkpoints: Iterable[str | bytes],
    public_key: bytes,
    key_name: str,
    *,
    witness: Iterable[str | bytes] = (),
    progress: Callable[[int], None] | None = None,
) -> VerifyReport:
    """``verify_log`` for leaves hashed in blocks, possibly by other processes.

    ``read_chunks(sizes)`` yields the whole log as ``LeafChunk``s in leaf order, built by
    ``hash_chunk`` with those ``sizes`` (the signed checkpoints' tree sizes). The checks
    and the report are the same as ``verify_log``'s."""
    verifier = _start(checkpoints, public_key, key_name, witness)
    for chunk in read_chunks(sorted({target.size for target in verifier.targets})):
        verifier.chunk(chunk)
        if progress is not None:
            progress(verifier.tree.size)
    verifier.finish()
    return _report(verifier)


def _start(
    checkpoints: Iterable[str | bytes],
    public_key: bytes,
    key_name: str,
    witness: Iterable[str | bytes],
) -> _LogVerifier:
    """Open every checkpoint and witness note; bad ones are problems before any leaf."""
    problems: list[tuple[int, str]] = []
    targets = _open_all(checkpoints, "checkpoint", public_key, key_name, problems)
    targets += _open_all(witness, "witness checkpoint", public_key, key_name, problems)
    verifier = _LogVerifier(targets, problems)
    verifier.reach_checkpoints()
    return verifier


def _report(verifier: _LogVerifier) -> VerifyReport:
    """Order problems by log position (stable), trimming a runaway list."""
    ordered = [message for _, message in sorted(verifier.problems, key=lambda p: p[0])]
    if len(ordered) > MAX_REPORTED:
        hidden = len(ordered) - MAX_REPORTED
        ordered = [*ordered[:MAX_REPORTED], f"... and {hidden} more problems"]
    return VerifyReport(verifier.tree.size, verifier.checked, ordered, verifier.last_good_size)
