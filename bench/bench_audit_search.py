"""Audit search over millions of events on PostgreSQL: each DPO filter's first page, timed.

    .venv/bin/python bench/bench_audit_search.py                    # 5,000,000 events
    .venv/bin/python bench/bench_audit_search.py --events 200000    # a quick run

A private PostgreSQL server is started (tests/support/postgres.py) and migrated exactly as
tests/support/apps.py does (roles.sql, Alembic as hub_owner, grants.sql); events are bulk
loaded with COPY (secondary indexes dropped during the load and rebuilt after, as one
would for a restore), then VACUUM ANALYZE. Then the hub's own counting job
(hub.dpo.queries.refresh_counts, which the audit sequencer runs after each batch)
stores count batches for all but the newest COUNT_BATCH - 1 events: the longest tail the
search counts directly when the sequencer keeps up, so the worst case.
Each filter is run through the hub's own code and engine (so its connection settings, such
as jit = off, apply): hub.dpo.queries.page, first page of 50, newest first, plus the
exact total, as the least-privileged hub_app role. The median of several runs after one
warm-up is printed beside the 200 ms target, with the page query, the total, and the total
by a direct count(*) (the design before stored counts) timed separately too.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere

from flask_migrate import upgrade  # noqa: E402
from sqlalchemy import func, select, text  # noqa: E402

from hub import create_app  # noqa: E402
from hub.auditlog.models import AuditEvent  # noqa: E402
from hub.dpo import queries  # noqa: E402
from hub.extensions import db  # noqa: E402
from tests.support.apps import apply_grants, postgres_database  # noqa: E402
from tests.support.postgres import PostgresServer  # noqa: E402

TARGET_MS = 200
CHUNK = 100_000
START = datetime(2024, 11, 23, tzinfo=UTC)
SPAN_S = 2 * 365 * 24 * 3600  # two years of activity
CASES, USERS = 50_000, 2_000
AGENCIES = [("police", "officer", 40), ("police", "supervisor", 6), ("police", "analyst", 4),
            ("nhs", "clinician", 15), ("probation", "probation_officer", 10),
            ("cps", "prosecutor", 10), ("advocacy", "advocate", 15)]
ACTIONS = [("case:read", 55), ("case:list", 15), ("case:search", 8), ("entry:create", 5),
           ("entry:edit", 2), ("case:update", 3), ("auth:login", 10), ("audit:search", 1.8),
           ("case:break-glass", 0.2)]
CLASSES = ["case.core", "perpetrator.identity", "victim.identity", "victim.location"]
SETTINGS = {"shared_buffers": "2GB", "work_mem": "32MB", "maintenance_work_mem": "1GB",
            "effective_cache_size": "12GB", "random_page_cost": "1.1"}


def users() -> list[tuple[int, str, str, str]]:
    rng, out = random.Random(7), []
    weights = [w for _a, _r, w in AGENCIES]
    for user_id in range(1, USERS + 1):
        agency, role, _w = rng.choices(AGENCIES, weights)[0]
        out.append((user_id, f"{agency}.{role}.{user_id}", agency, role))
    return out


def rows(total: int, people: list):
    """COPY text rows of audit_events and audit_subjects, deterministic for a given total."""
    rng = random.Random(2026)
    actions, weights = [a for a, _w in ACTIONS], [w for _a, w in ACTIONS]
    step = SPAN_S / total
    for seq in range(1, total + 1):
        user_id, username, agency, role = people[int(USERS * rng.random() ** 2)]  # skewed
        action = rng.choices(actions, weights)[0]
        outcome = "denied" if rng.random() < 0.045 else "allowed"
        case_id = rng.randrange(1, CASES + 1) if action.startswith(("case:", "entry:")) \
            and action not in ("case:list", "case:search") else None
        purpose = "break-glass" if action == "case:break-glass" or (
            case_id and rng.random() < 0.005) else ("member" if case_id else None)
        subjects = [case_id * 2, case_id * 2 + 1] if case_id and outcome == "allowed" else []
        at = START + timedelta(seconds=seq * step + rng.random())
        yield seq, (at, user_id, username, agency, role, action, outcome, case_id,
                    subjects, CLASSES[: 2 + len(subjects)] if subjects else [], purpose)


def _cell(value) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, list):
        return json.dumps(value)
    if isinstance(value, datetime):
        return value.isoformat()
    return str(value)


EVENT_COLUMNS = ("seq", "at", "user_id", "username", "agency", "role", "action", "outcome",
                 "case_id", "subject_ids", "classes", "purpose", "details", "user_agent")


def load(owner_url: str, total: int) -> float:
    """COPY ``total`` events; secondary indexes are dropped first and rebuilt after."""
    import psycopg

    started = time.perf_counter()
    with psycopg.connect(owner_url.replace("postgresql+psycopg", "postgresql")) as conn:
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename IN "
            "('audit_events', 'audit_subjects') AND indexname NOT LIKE 'pk_%'").fetchall()
        for name, _definition in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        _copy(conn, total)
        for name, definition in indexes:
            print(f"  rebuilding {name}", flush=True)
            conn.execute(definition)
        conn.execute("SELECT setval(pg_get_serial_sequence('audit_events', 'seq'), %s)",
                     (total,))
        conn.commit()
        conn.autocommit = True
        conn.execute("VACUUM ANALYZE audit_events")
        conn.execute("VACUUM ANALYZE audit_subjects")
    return time.perf_counter() - started


def _copy(conn, total: int) -> None:
    people = users()
    events, subjects = [], []
    with conn.cursor() as cur:
        for seq, values in rows(total, people):
            events.append("\t".join([str(seq), *(_cell(v) for v in values), "{}", "bench"]))
            subjects.extend(f"{seq}\t{p}" for p in values[8])
            if len(events) >= CHUNK or seq == total:
                _flush(cur, events, subjects)
                events, subjects = [], []
                print(f"  loaded {seq:,} events", flush=True)


def _flush(cur, events: list[str], subjects: list[str]) -> None:
    with cur.copy(f"COPY audit_events ({', '.join(EVENT_COLUMNS)}) FROM STDIN") as copy:
        copy.write("\n".join(events) + "\n")
    if subjects:
        with cur.copy("COPY audit_subjects (seq, person_id) FROM STDIN") as copy:
            copy.write("\n".join(subjects) + "\n")


BUSY, TYPICAL = users()[0][1], users()[1000][1]


def filters(total: int) -> list[tuple[str, dict]]:
    week = START + timedelta(days=600)
    return [
        ("no filter", {}),
        ("username (busiest user)", {"username": BUSY}),
        ("username (typical user)", {"username": TYPICAL}),
        ("agency=nhs", {"agency": "nhs"}),
        ("role=clinician", {"role": "clinician"}),
        ("action=case:read", {"action": "case:read"}),
        ("outcome=denied", {"outcome": "denied"}),
        ("purpose=member", {"purpose": "member"}),
        ("case_id (one case)", {"case_id": 4242}),
        ("person_id (one person)", {"person_id": 4242 * 2 + 1}),
        ("break-glass only", {"break_glass": True}),
        ("date range (one week)", {"since": week, "until": week + timedelta(days=7)}),
        ("user + last week", {"username": BUSY, "since": week,
                              "until": week + timedelta(days=7)}),
        ("police + denied + one month", {"agency": "police", "outcome": "denied",
                                         "since": week, "until": week + timedelta(days=30)}),
        ("deep page (page 200, agency=nhs)", {"agency": "nhs", "_page": 200}),
    ]


def _ms(fn, runs: int) -> float:
    fn()  # warm-up
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        fn()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def count_batches(app, total: int) -> None:
    """Store count batches as the sequencer's hook would, leaving the longest possible tail
    (COUNT_BATCH - 1 events) to be counted directly by every search."""
    with app.app_context():
        started = time.perf_counter()
        covered = queries.refresh_counts(min_events=1, upto=total - queries.COUNT_BATCH + 1)
        seconds = time.perf_counter() - started
        tail = total - queries.counted_upto()
        db.session.commit()
    print(f"counted {covered:,} events into batches in {seconds:.1f} s "
          f"({covered / seconds:,.0f} events/s); {tail:,} events left to count directly",
          flush=True)


def measure(app, total: int, runs: int) -> list[tuple]:
    results = []
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(AuditEvent)) == total
        # Timed through the hub's own engine, so its connection settings (jit = off) apply.
        assert db.session.scalar(text("SHOW jit")) == "off"
        for label, args in filters(total):
            page_no = args.pop("_page", 1)
            first = _ms(lambda a=args, p=page_no: queries.page(a, p, 50), runs)
            rows_only = _ms(lambda a=args, p=page_no: db.session.scalars(
                queries.filtered(a).order_by(*queries.ordering(a)).limit(50)
                .offset((p - 1) * 50)).all(), runs)
            count_only = _ms(lambda a=args: queries.count(a), runs)
            direct = _ms(lambda a=args: queries.direct_count(a), runs)
            matched = queries.count(args)
            assert matched == queries.direct_count(args)  # exact, always
            results.append((label, matched, first, rows_only, count_only, direct))
            print(f"  {label:34} {matched:>9,} matched  first page {first:8.1f} ms "
                  f"(rows {rows_only:.1f}, total {count_only:.1f}; direct count(*) "
                  f"{direct:.1f})  target < {TARGET_MS} ms "
                  f"{'OK' if first < TARGET_MS else 'SLOWER'}", flush=True)
            db.session.rollback()
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--events", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=7)
    options = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-audit-"))
    with PostgresServer(base / "pg") as pg:
        with pg.connect() as conn:
            conn.autocommit = True
            for key, value in SETTINGS.items():
                conn.execute(f"ALTER SYSTEM SET {key} = '{value}'")
        pg.restart()
        owner_url, app_url = postgres_database(pg, "hub_bench")
        config = {"HUB_ENV": "test", "HUB_INSTANCE_DIR": str(base), "TESTING": True}
        with create_app({**config, "SQLALCHEMY_DATABASE_URI": owner_url}).app_context():
            upgrade()
            db.engine.dispose()
        apply_grants(pg, owner_url)
        print(f"loading {options.events:,} events with COPY ...", flush=True)
        seconds = load(owner_url, options.events)
        print(f"loaded and indexed in {seconds:.0f} s", flush=True)
        app = create_app({**config, "SQLALCHEMY_DATABASE_URI": app_url})
        count_batches(app, options.events)
        results = measure(app, options.events, options.runs)
        with app.app_context():
            db.engine.dispose()
    print("\n| filter | events matched | first page + total (median) | target | rows only "
          "| total only | total by direct count(*) |")
    print("|---|---|---|---|---|---|---|")
    for label, matched, first, rows_only, count_only, direct in results:
        print(f"| {label} | {matched:,} | {first:.1f} ms | < {TARGET_MS} ms "
              f"{'met' if first < TARGET_MS else 'NOT met'} | {rows_only:.1f} ms | "
              f"{count_only:.1f} ms | {direct:.1f} ms |")


if __name__ == "__main__":
    main()
