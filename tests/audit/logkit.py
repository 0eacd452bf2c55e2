"""Builders for synthetic audit logs: events, stored hashes and signed checkpoints."""

from __future__ import annotations

import base64
import copy
from collections.abc import Iterable
from typing import Any

from audit import (
    Checkpoint,
    MemoryNodeStore,
    Signer,
    TreeBuilder,
    event_leaf_hash,
    sign_checkpoint,
)

ORIGIN = "stac-hub.example/audit"
SEQ_OFFSET = 10  # seq differs from leaf_index, so messages show which one they name


def make_events(n: int) -> list[dict[str, Any]]:
    return [
        {
            "seq": i + SEQ_OFFSET,
            "at": f"2026-03-01T09:{i // 60 % 60:02d}:{i % 60:02d}Z",
            "username": "police.officer" if i % 3 else "nhs.clinician",
            "agency": "police" if i % 3 else "nhs",
            "action": "case:view",
            "case_id": i % 7 + 1,
            "classes": ["case_summary", "victim_contact"],
            "outcome": "allowed",
            "leaf_index": i,
        }
        for i in range(n)
    ]


def sign_sizes(events: list[dict[str, Any]], sizes: Iterable[int], signer: Signer) -> list[str]:
    """Signed checkpoints of the tree of ``events`` at each of ``sizes``."""
    tree = TreeBuilder(MemoryNodeStore())
    tree.append(event_leaf_hash(e) for e in events)
    return [sign_checkpoint(Checkpoint(ORIGIN, s, tree.root(s)), signer) for s in sizes]


def with_stored_hashes(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """What the hub exports: each event with the leaf hash it stored when integrating."""
    stored = copy.deepcopy(events)
    for event in stored:
        event["stored_leaf_hash"] = base64.b64encode(event_leaf_hash(event)).decode()
    return stored


def renumber(events: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """An attacker's tidy-up: leaf indexes made contiguous again after an edit."""
    return [{**event, "leaf_index": i} for i, event in enumerate(events)]
