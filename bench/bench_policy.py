"""The access policy's speed: decisions per second against pycasbin, and a caseworker's
first page of cases on PostgreSQL with 100,000 cases and 1,000,000 entries.

    .venv/bin/pip install casbin==1.43.0   # for the comparison only; not a hub dependency
    .venv/bin/python bench/bench_policy.py                      # the full run (~2 minutes)
    .venv/bin/python bench/bench_policy.py --cases 10000 --entries 100000   # a quick run
    .venv/bin/python bench/bench_policy.py --skip-postgres      # decisions only

1. Decisions. Every question the policy answers (agency x role x area x case status x
   relationship x class x action, ~4,700 of them) is asked in a shuffled order, many
   times over, of our engine (``Policy.case_decision(...).can_read/can_write``) and of a
   pycasbin Enforcer given an equivalent model: the same rules expanded to casbin policy
   lines with "allow unless an explicit deny matches" effect. The two are first checked
   to give the same answer to every question. Without casbin installed this part is
   skipped with a message.
2. First page. A private PostgreSQL server (tests/support/postgres.py) is migrated as
   tests/support/apps.py does; 100,000 cases (two people each), 200,000 team memberships and
   1,000,000 entries are loaded with COPY, then ANALYZE. A police officer who is on ~200
   cases (by name) asks for the first page of their case list through the hub's own
   ``hub.cases.queries.search`` (the policy's SQL filter, the total and the page, with
   the people); the median of 20 runs after a warm-up is printed, and the query plan.
"""

from __future__ import annotations

import argparse
import itertools
import random
import statistics
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere

from hub.policy import ClassAction, Principal, Relationship, load_policy  # noqa: E402
from hub.policy.permissions import CASE_STATUSES  # noqa: E402

DECISION_TARGET = 10  # times casbin's rate
PAGE_TARGET_MS = 50
CASBIN_MODEL = """
[request_definition]
r = agency, role, area, rel, status, cls, act

[policy_definition]
p = agency, role, area, rel, status, cls, act, eft

[policy_effect]
e = some(where (p.eft == allow)) && !some(where (p.eft == deny))

[matchers]
m = r.agency == p.agency && (p.role == "*" || r.role == p.role) \
&& (p.area == "*" || r.area == p.area) && (p.rel == "*" || r.rel == p.rel) \
&& (p.status == "*" || r.status == p.status) && r.cls == p.cls && r.act == p.act
"""


# -- 1. decisions -----------------------------------------------------------------------------
def questions(policy) -> list[tuple]:
    roles = [(a, r) for a, spec in policy.set.agencies.items() for r in spec["roles"]]
    return list(itertools.product(roles, sorted(policy.set.area_rules), CASE_STATUSES,
                                  list(Relationship), policy.classes, list(ClassAction)))


def ours(policy, question) -> bool:
    (agency, role), area, status, rel, cls, act = question
    decision = policy.case_decision(Principal(1, "bench", agency, role), area, rel, status)
    return decision.can_write(cls) if act == ClassAction.WRITE else decision.can_read(cls)


def casbin_lines(policy) -> list[list[str]]:
    """The same rules as casbin policy lines. Whole-class grants only: a kinds-limited
    grant is not a whole-class read (casbin has no notion of entry kinds here)."""
    lines = []
    rules = [(r, "*") for r in policy.set.base_rules] + [
        (r, area) for area, rs in policy.set.area_rules.items() for r in rs]
    for rule, area in rules:
        if rule.kinds is not None:
            continue
        rels = [r.value for r in rule.relationship] or ["*"]
        for agency, role, rel, status, cls, act in itertools.product(
                sorted(rule.agencies), sorted(rule.roles or ["*"]), rels,
                sorted(rule.statuses or ["*"]), sorted(rule.classes), sorted(rule.actions)):
            lines.append([agency, role, area, rel, status, cls, act.value, rule.effect])
    return lines


def casbin_enforcer(policy):
    import casbin

    model = casbin.Enforcer.new_model(text=CASBIN_MODEL)
    enforcer = casbin.Enforcer(model)
    for line in casbin_lines(policy):
        enforcer.add_policy(*line)
    return enforcer


def theirs(enforcer, question) -> bool:
    (agency, role), area, status, rel, cls, act = question
    return enforcer.enforce(agency, role, area, rel.value, status, cls, act.value)


def rate(fn, items, seconds: float = 3.0) -> float:
    """Decisions per second over whole passes through ``items``, for about ``seconds``."""
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        for item in items:
            fn(item)
        done += len(items)
    return done / (time.perf_counter() - started)


def bench_decisions() -> tuple[float, float | None]:
    policy = load_policy(ROOT / "policies")
    asked = questions(policy)
    random.Random(1).shuffle(asked)
    print(f"decisions: {len(asked):,} distinct questions", flush=True)
    our_rate = rate(lambda q: ours(policy, q), asked)
    print(f"  ours:   {our_rate:12,.0f} decisions/s", flush=True)
    try:
        enforcer = casbin_enforcer(policy)
    except ImportError:
        print("  casbin: not installed; skipped (.venv/bin/pip install casbin==1.43.0)")
        return our_rate, None
    disagree = [q for q in asked if ours(policy, q) != theirs(enforcer, q)]
    assert not disagree, f"the casbin model is not equivalent: {disagree[:3]}"
    sample = asked[:2000]
    their_rate = rate(lambda q: theirs(enforcer, q), sample)
    print(f"  casbin: {their_rate:12,.0f} decisions/s (equivalent on all {len(asked):,})")
    ratio = our_rate / their_rate
    print(f"  ratio:  {ratio:12,.0f}x   target >= {DECISION_TARGET}x "
          f"{'OK' if ratio >= DECISION_TARGET else 'SLOWER'}", flush=True)
    return our_rate, their_rate


# -- 2. the first page on PostgreSQL ----------------------------------------------------------
AGENCY_MEMBERS = ["nhs", "probation", "cps", "advocacy"]  # never police: see below
KINDS = [("note", "case.core"), ("intelligence", "intelligence"), ("intervention", "clinical"),
         ("safety_plan", "victim.support"), ("order", "orders"), ("supervision", "supervision"),
         ("charging_decision", "legal.outcome"), ("note", "clinical.summary")]


def _copy(cur, table: str, columns: tuple[str, ...], rows) -> None:
    with cur.copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        for row in rows:
            copy.write_row(row)


def load(owner_url: str, cases: int, entries: int, member_of: int) -> tuple[int, float]:
    """Bulk-load; returns the id of the caseworker whose list is timed, and the seconds."""
    import psycopg

    started, rng, now = time.perf_counter(), random.Random(2026), datetime.now(UTC)
    with psycopg.connect(owner_url.replace("postgresql+psycopg", "postgresql")) as conn, \
            conn.cursor() as cur:
        ids = dict(cur.execute("SELECT code, id FROM agencies").fetchall())
        areas = [row[0] for row in cur.execute("SELECT id FROM areas ORDER BY code")]
        key = cur.execute("SELECT min(id) FROM data_keys").fetchone()[0]
        base = cur.execute("SELECT coalesce(max(id), 0) FROM users").fetchone()[0]
        staff = [(base + n, agency) for n, agency in enumerate(
            ["police"] * 20 + ["nhs"] * 8 + ["probation"] * 6 + ["cps"] * 6 + ["advocacy"] * 8,
            start=1)]
        worker = base + len(staff) + 1  # the police officer whose list is timed
        roles = {"police": "officer", "nhs": "clinician", "probation": "probation_officer",
                 "cps": "prosecutor", "advocacy": "advocate"}
        _copy(cur, "users", ("id", "username", "display_name", "agency_id", "role", "active",
                             "is_demo", "created_at"),
              [(uid, f"bench.{agency}.{uid}", "Bench user", ids[agency], roles[agency], True,
                False, now) for uid, agency in [*staff, (worker, "police")]])
        offset = cur.execute("SELECT coalesce(max(id), 0) FROM cases").fetchone()[0]
        case_ids = range(offset + 1, offset + cases + 1)
        _copy(cur, "cases", ("id", "reference", "status", "area_id", "risk_level", "referred_on",
                             "created_at", "created_by_id", "data_key_id", "version"),
              ((cid, f"BENCH-{cid:07d}", CASE_STATUSES[cid % 5], areas[cid % len(areas)],
                "standard", date(2020, 1, 1) + timedelta(days=cid % 2200), now, worker, key, 1)
               for cid in case_ids))
        person0 = cur.execute("SELECT coalesce(max(id), 0) FROM people").fetchone()[0]
        _copy(cur, "people", ("id", "name", "aliases", "data_key_id", "created_at"),
              ((person0 + 2 * n + p, f"{'Perpetrator' if p == 1 else 'Victim'} {n:07d}", "[]",
                key, now) for n in range(cases) for p in (1, 2)))
        _copy(cur, "case_parties", ("case_id", "person_id", "party"),
              ((offset + 1 + n, person0 + 2 * n + p, "perpetrator" if p == 1 else "victim")
               for n in range(cases) for p in (1, 2)))
        mine = set(rng.sample(case_ids, member_of))
        # Every case has a named member and a whole partner agency; police are never added
        # as a whole agency, so the timed officer's list is exactly their named cases.
        _copy(cur, "case_members", ("case_id", "user_id", "agency_id", "added_by_id",
                                    "added_at"),
              itertools.chain(
                  ((cid, rng.choice(staff)[0], None, worker, now) for cid in case_ids),
                  ((cid, None, ids[AGENCY_MEMBERS[cid % 4]], worker, now) for cid in case_ids),
                  ((cid, worker, None, worker, now) for cid in sorted(mine))))
        _copy(cur, "entries", ("case_id", "kind", "info_class", "author_id", "author_agency_id",
                               "restricted_to", "created_at", "version"),
              ((offset + 1 + n % cases, *KINDS[n % len(KINDS)], staff[n % len(staff)][0],
                ids[staff[n % len(staff)][1]], '["police"]' if n % 20 == 0 else None, now, 1)
               for n in range(entries)))
        for table in ("users", "cases", "people", "case_parties", "case_members", "entries"):
            cur.execute(f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "  # noqa: S608
                        f"(SELECT max(id) FROM {table}))")
        conn.commit()
        conn.autocommit = True
        cur.execute("ANALYZE")
    return worker, time.perf_counter() - started


def bench_first_page(cases: int, entries: int, member_of: int, runs: int) -> dict:
    from flask_migrate import upgrade

    from hub import create_app
    from hub.accounts.models import User
    from hub.cases import queries
    from hub.extensions import db
    from hub.seed import seed_demo
    from tests.support.apps import apply_grants, postgres_database
    from tests.support.postgres import PostgresServer

    base = Path(tempfile.mkdtemp(prefix="bench-policy-"))
    with PostgresServer(base / "pg") as pg:
        owner_url, app_url = postgres_database(pg, "hub_bench")
        config = {"HUB_ENV": "test", "HUB_INSTANCE_DIR": str(base), "TESTING": True,
                  "HUB_DEMO": True}
        with create_app({**config, "SQLALCHEMY_DATABASE_URI": owner_url}).app_context():
            upgrade()
            seed_demo()  # areas, agencies, a data key
            db.engine.dispose()
        apply_grants(pg, owner_url)
        print(f"first page: loading {cases:,} cases and {entries:,} entries with COPY ...",
              flush=True)
        worker_id, seconds = load(owner_url, cases, entries, member_of)
        print(f"  loaded and analysed in {seconds:.0f} s", flush=True)
        app = create_app({**config, "SQLALCHEMY_DATABASE_URI": app_url})
        with app.app_context():
            who = Principal.of(db.session.get(User, worker_id))
            times, page = [], None
            for run in range(runs + 1):
                db.session.remove()  # nothing cached between runs
                started = time.perf_counter()
                page = queries.search(who, "", 1, 20)
                if run:  # the first is a warm-up
                    times.append((time.perf_counter() - started) * 1000)
            searches = {q: _median_ms(lambda q=q: queries.search(who, q, 1, 20), db, runs)
                        for q in ("Perpetrator 0001", "BENCH-00012")}
            searches.update({f"{q} (jit off)": _median_ms(lambda q=q: _no_jit_search(
                db, queries, who, q), db, runs) for q in ("Perpetrator 0001", "BENCH-00012")})
            plan = _explain(db, who)
            db.engine.dispose()
    median = statistics.median(times)
    print(f"  caseworker on {page.total} cases: first page of {len(page.items)} in median "
          f"{median:.1f} ms (min {min(times):.1f}, max {max(times):.1f}) over {runs} runs; "
          f"target < {PAGE_TARGET_MS} ms {'OK' if median < PAGE_TARGET_MS else 'SLOWER'}")
    for q, ms in searches.items():
        print(f"  search {q!r} on the same list: median {ms:.1f} ms")
    print("  plan of the page query:\n    " + "\n    ".join(plan))
    return {"median": median, "total": page.total, "min": min(times), "max": max(times)}


def _no_jit_search(db, queries, who, q):
    """PostgreSQL's JIT compiles queries whose estimated cost passes jit_above_cost; the
    search filter's estimate does, and compiling costs far more than running it."""
    from sqlalchemy import text

    db.session.execute(text("SET LOCAL jit = off"))
    return queries.search(who, q, 1, 20)


def _median_ms(fn, db, runs: int) -> float:
    times = []
    for run in range(runs + 1):
        db.session.remove()
        started = time.perf_counter()
        fn()
        if run:
            times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def _explain(db, who, search: str = "") -> list[str]:
    from sqlalchemy import select, text

    from hub.cases.models import Case
    from hub.policy import current_policy, plan
    from hub.timeutil import utcnow

    where = [plan.visible_cases(current_policy(), who, utcnow())]
    if search:
        where.append(plan.matches_search(current_policy(), who, utcnow(), search))
    query = (select(Case.id).where(*where)
             .order_by(Case.referred_on.desc(), Case.id.desc()).limit(20))
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    return [row[0] for row in db.session.execute(text(f"EXPLAIN ANALYZE {compiled}"))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--cases", type=int, default=100_000)
    parser.add_argument("--entries", type=int, default=1_000_000)
    parser.add_argument("--member-of", type=int, default=200)
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--skip-postgres", action="store_true")
    options = parser.parse_args()
    started = time.perf_counter()
    bench_decisions()
    if not options.skip_postgres:
        bench_first_page(options.cases, options.entries, options.member_of, options.runs)
    print(f"done in {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
