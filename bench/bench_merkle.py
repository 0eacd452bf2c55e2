"""Benchmarks for the audit log's Merkle tree, each number printed beside its target.

    .venv/bin/python bench/bench_merkle.py            # the full run (about two minutes)
    .venv/bin/python bench/bench_merkle.py --scale 0.01   # a quick smoke run

1. append_leaves integration rate: 1,000,000 leaf hashes in batches of 10,000.
2. One inclusion proof in a 10,000,000-leaf tree held in a MemoryNodeStore (the tree is
   built with append_leaves; its build time is printed too).
3. verify_log throughput over 1,000,000 synthetic events with a checkpoint every 100,000.
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import statistics
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from anywhere

from audit import (
    Checkpoint,
    MemoryNodeStore,
    Signer,
    append_leaves,
    event_leaf_hash,
    inclusion_proof,
    root_at,
    sign_checkpoint,
    verify_inclusion,
    verify_log,
)
from audit.verify import CompactRange

BATCH = 10_000
ORIGIN = "bench.example/audit"


def random_batches(total: int) -> Iterator[list[bytes]]:
    """Random 32-byte leaf hashes, a batch at a time, so no full list is ever held."""
    for start in range(0, total, BATCH):
        count = min(BATCH, total - start)
        blob = os.urandom(32 * count)
        yield [blob[i : i + 32] for i in range(0, len(blob), 32)]


def build(total: int) -> tuple[MemoryNodeStore, float]:
    """A tree of ``total`` random leaves; returns the store and seconds spent appending."""
    store, size, spent = MemoryNodeStore(), 0, 0.0
    for batch in random_batches(total):
        start = time.perf_counter()
        size = append_leaves(store, size, batch)
        spent += time.perf_counter() - start
    return store, spent


def bench_append(total: int) -> None:
    _, spent = build(total)
    rate = f"{total / spent:,.0f} events/s over {total:,} leaf hashes in batches of {BATCH:,}"
    print(f"append_leaves: {rate}  (target >= 50,000/s)")


def bench_proof(total: int, samples: int = 2000) -> None:
    store, spent = build(total)
    rate = f"{spent:.1f} s ({total / spent:,.0f} leaves/s)"
    print(
        f"  built the {total:,}-leaf tree with append_leaves in {rate}; RSS {peak_rss_mb():,.0f} MB"
    )
    rng = random.Random(1)
    indexes = [rng.randrange(total) for _ in range(samples)]
    timings = []
    for index in indexes:
        start = time.perf_counter()
        inclusion_proof(store, index, total)
        timings.append(time.perf_counter() - start)
    leaf = store.get_nodes([(0, indexes[0])])[(0, indexes[0])]
    proof = inclusion_proof(store, indexes[0], total)
    verify_inclusion(leaf, indexes[0], total, proof, root_at(store, total))
    timings.sort()
    median, p99 = statistics.median(timings) * 1e3, timings[samples * 99 // 100] * 1e3
    print(
        f"inclusion_proof in a {total:,}-leaf tree: median {median:.3f} ms, p99 {p99:.3f} ms "
        f"over {samples:,} random leaves  (target < 1 ms)"
    )


def synthetic_events(total: int) -> Iterator[dict[str, Any]]:
    """Deterministic events shaped like the hub's, so the same log can be read twice."""
    actions = ("case:view", "case:note:create", "case:member:add", "person:view")
    for i in range(total):
        yield {
            "seq": i + 1,
            "at": f"2026-03-01T{i // 3600 % 24:02d}:{i // 60 % 60:02d}:{i % 60:02d}Z",
            "username": f"user{i % 97}",
            "agency": ("police", "nhs", "probation", "cps")[i % 4],
            "action": actions[i % len(actions)],
            "case_id": i % 5000 + 1,
            "classes": ["case_summary", "victim_contact"][: i % 2 + 1],
            "outcome": "allowed",
            "leaf_index": i,
        }


def sign_log(total: int, every: int, signer: Signer) -> list[str]:
    """The hub's side: checkpoints over the synthetic log (not timed)."""
    tree, notes = CompactRange(), []
    for event in synthetic_events(total):
        tree.append(event_leaf_hash(event))
        if tree.size % every == 0 or tree.size == total:
            notes.append(sign_checkpoint(Checkpoint(ORIGIN, tree.size, tree.root()), signer))
    return notes


def bench_verify(total: int) -> None:
    signer = Signer.generate(ORIGIN)
    notes = sign_log(total, max(total // 10, 1), signer)
    start = time.perf_counter()
    report = verify_log(synthetic_events(total), notes, signer.public_key, ORIGIN)
    spent = time.perf_counter() - start
    assert report.ok and report.leaves == total, report.problems
    print(
        f"verify_log: {total / spent:,.0f} events/s over {total:,} events and "
        f"{report.checkpoints_checked} checkpoints ({spent:.1f} s)  (no target set)"
    )


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", type=float, default=1.0, help="multiply every size by this")
    scale = parser.parse_args().scale
    print(f"Python {sys.version.split()[0]} on {os.cpu_count()} CPU(s)")
    bench_append(int(1_000_000 * scale))
    bench_proof(int(10_000_000 * scale))
    bench_verify(int(1_000_000 * scale))
    print(f"peak RSS: {peak_rss_mb():,.0f} MB  (target < 4,096 MB)")


if __name__ == "__main__":
    main()
