"""Benchmarks for the hub's audit log, each number printed beside its target.

    .venv/bin/python bench/bench_audit.py                 # the full run
    .venv/bin/python bench/bench_audit.py --scale 0.05    # a quick smoke run

1. Audited case views per second (GET /api/v1/cases/<id>, Flask test client, SQLite)
   against the same endpoint with the audit writer replaced by a no-op in this process
   (the switch exists only here); rounds alternate so both see the same machine load.
2. Sequencer integration rate (run_once: unintegrated events with the leaf hashes the
   writer stored, leaves, nodes, one signed checkpoint) on SQLite (1,000,000 events) and
   PostgreSQL (200,000 events). The events are inserted in bulk with their leaf hashes
   computed as the writer computes them; that cost is printed too (it is paid once per
   event, by the request that writes it).
3. Inclusion proofs through the database node store (DbNodeStore) at those sizes.
4. `hub audit verify` (the console script, a subprocess) over the 1,000,000-event log,
   ``--repeat`` times (best and median).

``--only`` runs a subset, e.g. ``--only sequencer,verify`` (SQLite) or ``--only postgres``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import create_engine, select, text  # noqa: E402

from audit import event_leaf_hash, inclusion_proof  # noqa: E402
from hub import create_app  # noqa: E402
from hub.auditlog import sequencer, writer  # noqa: E402
from hub.auditlog.tree import DbNodeStore, insert_rows, leaf_content, tree_size  # noqa: E402
from hub.extensions import db  # noqa: E402

BASE = {"HUB_ENV": "test", "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False}


def sqlite_app(folder: Path):
    app = create_app({**BASE, "HUB_INSTANCE_DIR": str(folder),
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{folder / 'hub.sqlite3'}"})
    with app.app_context():
        upgrade()
    return app


def postgres_app(folder: Path, pg):
    from tests.support.apps import apply_grants, postgres_database

    owner, url = postgres_database(pg, "hub_bench")
    with create_app({**BASE, "HUB_INSTANCE_DIR": str(folder),
                     "SQLALCHEMY_DATABASE_URI": owner}).app_context():
        upgrade()
        db.engine.dispose()
    apply_grants(pg, owner)
    app = create_app({**BASE, "HUB_INSTANCE_DIR": str(folder), "SQLALCHEMY_DATABASE_URI": url})
    app.config["BENCH_OWNER_URL"] = owner
    return app


# --- 1. case views -----------------------------------------------------------------------


def bench_views(folder: Path, views: int) -> None:
    from hub.accounts import operations
    from hub.accounts.models import User
    from hub.seed import seed_demo

    app = sqlite_app(folder)
    with app.test_request_context():
        seed_demo()
        user = db.session.scalar(select(User).where(User.username == "nhs.clinician"))
        token, _ = operations.issue_token(user)
        case_id = db.session.scalars(select(db.metadata.tables["cases"].c.id)).first()
    client, header = app.test_client(), {"Authorization": f"Bearer {token}"}
    real = writer.record_now
    rates = {"audited": [], "off": []}
    for _round in range(3):
        for mode in ("audited", "off"):
            writer.record_now = real if mode == "audited" else (lambda *a, **k: None)
            rates[mode].append(_views_per_second(client, header, case_id, views))
    writer.record_now = real
    best = {mode: max(r) for mode, r in rates.items()}
    print(f"case views/s audited {best['audited']:,.0f}, auditing off {best['off']:,.0f}, "
          f"ratio {best['audited'] / best['off']:.2f} (target >= 0.8); "
          f"rounds {[round(r) for r in rates['audited']]} vs {[round(r) for r in rates['off']]}")


def _views_per_second(client, header, case_id: int, views: int) -> float:
    start = time.perf_counter()
    for _ in range(views):
        response = client.get(f"/api/v1/cases/{case_id}", headers=header)
        assert response.status_code == 200, response.status_code
    return views / (time.perf_counter() - start)


# --- 2-4. sequencer, proofs, verify ----------------------------------------------------


FILL_COLUMNS = ("at", "request_id", "user_id", "username", "agency", "role", "action",
                "outcome", "case_id", "subject_ids", "classes", "purpose", "policy_digest",
                "client_addr", "user_agent", "details", "grant_id", "rule", "leaf_hash")


def fill_events(app, count: int) -> None:
    """Synthetic case views, inserted in bulk the way many requests would have, each with
    the leaf hash the writer would have stored (``writer.record``'s own computation)."""
    at = datetime(2026, 11, 1, tzinfo=UTC)
    hashing = 0.0
    with app.app_context():
        sqlite = db.engine.dialect.name == "sqlite"
        stored_at = at.replace(tzinfo=None).isoformat(" ", "microseconds") if sqlite else at
        for start in range(0, count, 50_000):
            rows = []
            for i in range(start, min(count, start + 50_000)):
                values = {
                    "at": at, "request_id": f"{i:032x}", "user_id": i % 50 + 1,
                    "username": "nhs.clinician", "agency": "nhs", "role": "clinician",
                    "action": "case:read", "outcome": "allowed", "case_id": i % 1000 + 1,
                    "subject_ids": [i % 5000, i % 5000 + 1],
                    "classes": ["case.core", "clinical"], "purpose": "member",
                    "policy_digest": "ab" * 32, "client_addr": "10.0.0.1",
                    "user_agent": "bench", "details": {}, "grant_id": None, "rule": None}
                began = time.perf_counter()
                values["leaf_hash"] = event_leaf_hash(leaf_content(values))
                hashing += time.perf_counter() - began
                rows.append(tuple(
                    stored_at if name == "at"
                    else json.dumps(values[name]) if name in ("subject_ids", "classes", "details")
                    else values[name] for name in FILL_COLUMNS))
            insert_rows(db.session, "audit_events", FILL_COLUMNS, rows)
            db.session.commit()
        db.session.remove()
    if "BENCH_OWNER_URL" in app.config:  # what autovacuum does after a bulk insert (as owner)
        owner = create_engine(app.config["BENCH_OWNER_URL"])
        with owner.begin() as connection:
            connection.execute(text("ANALYZE audit_events"))
        owner.dispose()
    print(f"writer-side leaf hash (canonical JSON + SHA-256): {hashing / count * 1e6:.1f} us "
          "per event")


def bench_sequencer(app, label: str, count: int) -> int:
    fill_events(app, count)
    with app.app_context():
        start = time.perf_counter()
        result = sequencer.run_once(batch_size=50_000)
        seconds = time.perf_counter() - start
        db.session.remove()
    print(f"sequencer {label}: {result.integrated:,} events in {seconds:.1f} s = "
          f"{result.integrated / seconds:,.0f} events/s (target >= 50,000/s)")
    return result.tree_size


def bench_proofs(app, label: str, samples: int = 500) -> None:
    with app.app_context():
        size = tree_size()
        store = DbNodeStore()
        times = []
        for index in random.Random(1).sample(range(size), min(samples, size)):
            start = time.perf_counter()
            inclusion_proof(store, index, size)
            times.append(time.perf_counter() - start)
        db.session.remove()
    times.sort()
    print(f"inclusion proof via DbNodeStore, {label}, tree of {size:,}: median "
          f"{statistics.median(times) * 1e3:.3f} ms, p99 {times[int(len(times) * .99)] * 1e3:.3f}"
          " ms (target < 1 ms)")


def bench_verify(folder: Path, repeat: int) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HUB_", "DATABASE_"))}
    env.update(HUB_ENV="test", HUB_INSTANCE_DIR=str(folder))
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = subprocess.run([str(Path(sys.executable).with_name("hub")), "audit", "verify"],  # noqa: S603
                                env=env, capture_output=True, text=True, check=False)
        times.append(time.perf_counter() - start)
        print(f"hub audit verify: {times[-1]:.1f} s, exit {result.returncode}: "
              f"{result.stdout.strip().splitlines()[0]}")
    print(f"hub audit verify: best {min(times):.1f} s, median {statistics.median(times):.1f} s "
          f"of {repeat} (target < 10 s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--scale", type=float, default=1.0, help="multiplies every size")
    parser.add_argument("--repeat", type=int, default=3, help="runs of `hub audit verify`")
    parser.add_argument("--only", default="views,sequencer,verify,postgres",
                        help="comma-separated subset of views,sequencer,verify,postgres")
    args = parser.parse_args()
    parts = set(args.only.split(","))
    big, pg_count = int(1_000_000 * args.scale), int(200_000 * args.scale)
    work = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    try:
        if "views" in parts:
            bench_views(work / "views", max(50, int(500 * args.scale)))
        if parts & {"sequencer", "verify"}:
            sqlite = sqlite_app(work / "sqlite")
            bench_sequencer(sqlite, "SQLite", big)
            bench_proofs(sqlite, "SQLite")
            if "verify" in parts:
                bench_verify(work / "sqlite", args.repeat)
        if "postgres" in parts:
            run_postgres(work, pg_count)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_postgres(work: Path, count: int) -> None:
    from tests.support.postgres import PostgresServer

    with PostgresServer(work / "pg") as pg:
        app = postgres_app(work / "pg-hub", pg)
        bench_sequencer(app, "PostgreSQL", count)
        bench_proofs(app, "PostgreSQL")
        with app.app_context():
            db.engine.dispose()


if __name__ == "__main__":
    main()
