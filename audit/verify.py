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
from .merkle import EMPTY_ROOT, fold_subtrees, leaf_hash, node_hash
from .note import Checkpoint, NoteError, open_checkpoint

__all__ = ["LEAF_META_KEYS", "CompactRange", "VerifyReport", "event_leaf_hash", "verify_log"]

LEAF_META_KEYS = frozenset({"leaf_index", "stored_leaf_hash"})
"""Keys describing where an event sits in the tree, not what happened: never hashed."""

PROGRESS_EVERY = 100_000
MAX_REPORTED = 1000


def event_leaf_hash(event: Mapping[str, Any]) -> bytes:
    """The Merkle leaf hash of an audit event: SHA-256(0x00 || RFC 8785 JSON of the event).

    The single definition shared by the hub (when it integrates events) and the auditor
    (when it re-derives them). The tree position (``leaf_index``) and any stored copy of
    the hash are left out, since they are assigned after the event is written.
    """
    content = {key: value for key, value in event.items() if key not in LEAF_META_KEYS}
    return leaf_hash(canonical_bytes(content))


class CompactRange:
    """The right edge of a growing tree: one hash per set bit of its size.

    Appending a leaf merges equal-sized perfect subtrees like a binary counter, so the
    whole log can be hashed in O(log n) memory.
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

    def root(self) -> bytes:
        return fold_subtrees(self._stack) if self._stack else EMPTY_ROOT


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


class _LogVerifier:
    """State of one pass over the events; each method handles one kind of check."""

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
        position = self.tree.size
        label = self.check_index(position, event)
        try:
            digest = event_leaf_hash(event)
        except CanonicalizationError as exc:
            self.add(position, f"{label}: event cannot be canonicalised ({exc})")
            digest = leaf_hash(b"")
        self.check_stored_hash(position, label, event, digest)
        self.tree.append(digest)
        self.reach_checkpoints()

    def check_index(self, position: int, event: Mapping[str, Any]) -> str:
        """Leaf indexes must run 0, 1, 2, ...; returns the label naming this event."""
        index = event.get("leaf_index")
        seq = f" (event seq {event['seq']})" if "seq" in event else ""
        if not isinstance(index, int) or isinstance(index, bool):
            self.add(position, f"event at position {position}{seq} has no integer leaf_index")
            return f"event at position {position}{seq}"
        label, expected = f"leaf {index}{seq}", self.expected_index
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

    def check_stored_hash(
        self, position: int, label: str, event: Mapping[str, Any], digest: bytes
    ) -> None:
        """A stored hash that differs pins the change to this leaf; the next checkpoint
        then tells whether the event or the stored hash was altered."""
        if "stored_leaf_hash" not in event:
            return
        stored = _as_hash_bytes(event["stored_leaf_hash"])
        if stored is None or not hmac.compare_digest(stored, digest):
            self.stored_mismatches.append((position, label))

    def reach_checkpoints(self) -> None:
        while self.targets and self.targets[-1].size == self.tree.size:
            self.check_checkpoint(self.targets.pop())

    def check_checkpoint(self, target: _Target) -> None:
        size, what = target.size, f"{target.source} at size {target.size}"
        self.checked += 1
        if hmac.compare_digest(self.tree.root(), target.checkpoint.root_hash):
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
    problems: list[tuple[int, str]] = []
    targets = _open_all(checkpoints, "checkpoint", public_key, key_name, problems)
    targets += _open_all(witness, "witness checkpoint", public_key, key_name, problems)
    verifier = _LogVerifier(targets, problems)
    verifier.reach_checkpoints()
    for event in events:
        verifier.event(event)
        if progress is not None and verifier.tree.size % PROGRESS_EVERY == 0:
            progress(verifier.tree.size)
    verifier.finish()
    if progress is not None:
        progress(verifier.tree.size)
    return _report(verifier)


def _report(verifier: _LogVerifier) -> VerifyReport:
    """Order problems by log position (stable), trimming a runaway list."""
    ordered = [message for _, message in sorted(verifier.problems, key=lambda p: p[0])]
    if len(ordered) > MAX_REPORTED:
        hidden = len(ordered) - MAX_REPORTED
        ordered = [*ordered[:MAX_REPORTED], f"... and {hidden} more problems"]
    return VerifyReport(verifier.tree.size, verifier.checked, ordered, verifier.last_good_size)
