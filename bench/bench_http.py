"""The hub over HTTP as `make run` serves it, beside three naive reference endpoints served
by the same gunicorn settings, on SQLite and on PostgreSQL; every figure in one table.

    .venv/bin/python bench/bench_http.py                        # 60 s per load, both databases
    .venv/bin/python bench/bench_http.py --seconds 10 --backend sqlite --workers 1

For each database (a fresh one, set up as a user would: `hub db upgrade`, `hub seed-demo`;
on PostgreSQL a private durable server, roles.sql, migrations as hub_owner, grants.sql, the
hub connecting as hub_app) and each worker count (deploy/gunicorn.conf.py's default, then 1):

1. the hub under gunicorn (`gunicorn -c deploy/gunicorn.conf.py wsgi:app`, WEB_CONCURRENCY
   workers), loaded by `wrk -t2 -c16` in turn on the case view (GET /api/v1/cases/<id> as
   police.officer, bearer token), the case list (GET /api/v1/cases) and the case page
   (GET /cases/<id>, the session cookie of a browser that posted the sign-in form);
2. bench/naive_app.py under the same gunicorn command and workers, on the same database:
   bare Flask JSON, one SELECT, and the SELECT plus a durable INSERT (the naive audited read).

Each load runs ``--seconds`` after a 2 s warm-up. Every request carries its own X-Request-Id
(bench/wrk_report.lua). After a load the server finishes what was in flight, then the 2xx
responses in gunicorn's access log (which logs that header) are matched with the events
written since (the hub's audit_events, the naive app's naive_events): "one each" means every
2xx has exactly one event and there is no other. wrk's own 2xx count is lower by the
requests in flight when it stopped. req/s counts 2xx responses only; non-2xx counts the
other statuses in the access log (those in flight when wrk stopped included), and wrk's
socket errors and timeouts; boots counts the workers gunicorn started during the
load (deploy/gunicorn.conf.py recycles each after ~1000 requests; while one boots, with one
worker nothing is served).

Targets (the issue): each hub endpoint at least 0.5x the naive audited read on the same
database and workers; with the default workers no non-2xx and one event per 2xx; the case
view's p99 below 50 ms on PostgreSQL with the default workers.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))  # run from anywhere

import requests  # noqa: E402
from sqlalchemy import create_engine, text  # noqa: E402

from tests.support.factories import DEMO_PASSWORD  # noqa: E402

BIN = Path(sys.executable).parent  # the virtualenv's hub and gunicorn
CONF = "deploy/gunicorn.conf.py"
LUA = ROOT / "bench/wrk_report.lua"
USER = "police.officer"
WARM_UP_S = 2


@dataclass(frozen=True)
class Load:
    name: str
    app: str  # "hub" or "naive"
    path: str  # {case}: the case police.officer sees first
    credential: str = ""  # "token", "cookie" or none
    action: str = ""  # the event each 2xx must write


LOADS = [
    Load("bare Flask JSON", "naive", "/json"),
    Load("one SELECT", "naive", "/select/{case}"),
    Load("SELECT + audit INSERT", "naive", "/audited/{case}", action="naive:read"),
    Load("hub case view", "hub", "/api/v1/cases/{case}", "token", "case:read"),
    Load("hub case list", "hub", "/api/v1/cases", "token", "case:list"),
    Load("hub case page", "hub", "/cases/{case}", "cookie", "case:read"),
]
REFERENCE = "SELECT + audit INSERT"
EVENTS = {"hub": "SELECT request_id FROM audit_events WHERE seq > :after AND action = :action",
          "naive": "SELECT request_id FROM naive_events WHERE id > :after AND action = :action"}
LAST_EVENT = {"hub": "SELECT coalesce(max(seq), 0) FROM audit_events",
              "naive": "SELECT coalesce(max(id), 0) FROM naive_events"}
NAIVE_TABLE = {
    "sqlite": ["CREATE TABLE naive_events (id INTEGER PRIMARY KEY, at TIMESTAMP, "
               "request_id VARCHAR(64), action VARCHAR(32), case_id INTEGER)"],
    "postgres": ["CREATE TABLE naive_events (id BIGSERIAL PRIMARY KEY, at TIMESTAMPTZ, "
                 "request_id VARCHAR(64), action VARCHAR(32), case_id INTEGER)",
                 "GRANT SELECT, INSERT ON naive_events TO hub_app",
                 "GRANT USAGE ON SEQUENCE naive_events_id_seq TO hub_app"]}


@dataclass
class Row:
    load: Load
    backend: str
    workers: int
    rps: float  # 2xx responses per second
    p50: float  # ms
    p99: float
    failed: int  # non-2xx responses logged, wrk's socket errors and timeouts
    wrk_2xx: int
    logged_2xx: int  # in gunicorn's access log
    events: int
    one_each: bool
    boots: int  # workers gunicorn (re)started during the load (max_requests recycling)
    ratio: float = 0.0  # to the naive audited read, same backend and workers


# --- the database, set up as a user would ------------------------------------------------


def environment(work: Path, url: str) -> dict[str, str]:
    """The environment of `make run` with this database (nothing inherited from ours)."""
    ours = ("HUB_", "DATABASE_URL", "WEB_CONCURRENCY", "GUNICORN_")
    return {**{k: v for k, v in os.environ.items() if not k.startswith(ours)},
            "HUB_INSTANCE_DIR": str(work), "DATABASE_URL": url}


def hub_command(env: dict, *args: str) -> None:
    subprocess.run([BIN / "hub", *args], env=env, cwd=ROOT, check=True,  # noqa: S603
                   capture_output=True)


@contextmanager
def database(backend: str, work: Path):
    """Yields the URL the hub connects with: migrated, seeded, with naive_events."""
    if backend == "sqlite":
        url = f"sqlite:///{work / 'hub.sqlite3'}"
        prepare(backend, work, url, url)
        yield url
        return
    from tests.support.apps import apply_grants, postgres_database
    from tests.support.postgres import PostgresServer

    with PostgresServer(work / "pg", durable=True) as pg:
        owner, app = postgres_database(pg, "stac_hub")
        prepare(backend, work, owner, app, grants=lambda: apply_grants(pg, owner))
        yield app


def prepare(backend: str, work: Path, owner: str, app: str, grants=None) -> None:
    hub_command(environment(work, owner), "db", "upgrade")
    if grants:
        grants()
    engine = create_engine(owner)
    with engine.begin() as connection:
        for statement in NAIVE_TABLE[backend]:
            connection.execute(text(statement))
    engine.dispose()
    hub_command(environment(work, app), "seed-demo")


# --- gunicorn and wrk ------------------------------------------------------------------


@dataclass
class Server:
    base: str
    log: Path  # gunicorn's access log (its stdout)
    err: Path  # its error log (stderr): worker boots


@contextmanager
def serve(app: str, env: dict, workers: int, log: Path, probe: str):
    """`gunicorn -c deploy/gunicorn.conf.py APP` with WEB_CONCURRENCY=workers."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    env = {**env, "HUB_PORT": str(port), "WEB_CONCURRENCY": str(workers)}
    with log.open("ab") as out, log.with_suffix(".err").open("ab") as err:
        server = subprocess.Popen([BIN / "gunicorn", "-c", CONF, app],  # noqa: S603
                                  cwd=ROOT, env=env, stdout=out, stderr=err)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if requests.get(base + probe, timeout=5).ok:
                    break
            except requests.RequestException:  # not listening yet, or workers still booting
                pass
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"gunicorn {app} did not start; see {log.with_suffix('.err')}")
            time.sleep(0.2)
        yield Server(base, log, log.with_suffix(".err"))
    finally:
        server.terminate()
        server.wait(timeout=60)


def wrk(url: str, seconds: int, tag: str, headers: list[str]) -> dict:
    command = ["wrk", "-t2", "-c16", f"-d{seconds}s", "--timeout", "30s", "-s", str(LUA)]
    for header in headers:
        command += ["-H", header]
    output = subprocess.run([*command, url, "--", tag], capture_output=True, text=True,  # noqa: S603
                            check=True).stdout
    return json.loads(next(line[4:] for line in output.splitlines() if line.startswith("WRK ")))


def settle(log: Path, offset: int, tag: str, sent: int) -> None:
    """Wait until the server has answered every request wrk sent, those still in flight when
    it stopped included (their events are written before their access log lines)."""
    deadline = time.monotonic() + 45  # past gunicorn's 30 s timeout
    while len(logged(log, offset, tag)) < sent:
        if time.monotonic() > deadline:
            print(f"    {sent - len(logged(log, offset, tag))} of {sent} requests unanswered",
                  file=sys.stderr)
            return
        time.sleep(0.5)


def read_from(path: Path, offset: int) -> str:
    with path.open("rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def logged(log: Path, offset: int, tag: str) -> list[tuple[str, str]]:
    """(request id, status) of each response gunicorn logged after ``offset`` for this load.
    deploy/gunicorn.conf.py's format: [time] request-id forwarded-for "GET path HTTP/1.1" status"""
    pattern = re.compile(rf'\] ({tag}\w*) \S+ "[A-Z]+ \S+ [^"]*" (\d\d\d) ')
    return [(m[1], m[2]) for m in pattern.finditer(read_from(log, offset))]


def explain(result: dict, responses: list[tuple[str, str]], served: list[str],
            events: list[str], errors: str) -> None:
    """What went wrong, when something did: the first few of each oddity."""
    odd = [f"{rid} {status}" for rid, status in responses if not status.startswith("2")]
    print(f"    wrk: {result['other']} other statuses, {result['socket_errors']} socket errors, "
          f"{result['timeouts']} timeouts\n"
          f"    non-2xx in the access log: {odd[:5]}\n"
          f"    events without a 2xx: {list(Counter(events) - Counter(served))[:5]}\n"
          f"    2xx without an event: {list(Counter(served) - Counter(events))[:5]}\n"
          f"    more than one event: {[r for r, n in Counter(events).items() if n > 1][:5]}",
          file=sys.stderr)
    worth = [x for x in errors.splitlines() if re.search(r"ERROR|CRITICAL|WARN|Error\b", x)]
    for line in worth[:10]:
        print(f"    {line[:300]}", file=sys.stderr)


def measure(server: Server, engine, load: Load, case: int, headers: list[str],
            seconds: int, backend: str, workers: int) -> Row:
    url = server.base + load.path.format(case=case)
    for warm_up in (True, False):
        offset, err_offset = server.log.stat().st_size, server.err.stat().st_size
        with engine.connect() as connection:
            after = connection.scalar(text(LAST_EVENT[load.app]))
        tag = ("w" if warm_up else "b") + uuid.uuid4().hex[:10]
        result = wrk(url, WARM_UP_S if warm_up else seconds, tag, headers)
        settle(server.log, offset, tag, result["sent"])
    responses = logged(server.log, offset, tag)
    served = [request_id for request_id, status in responses if status.startswith("2")]
    errors = read_from(server.err, err_offset)
    events: list[str] = []
    if load.action:
        with engine.connect() as connection:
            events = list(connection.scalars(text(EVENTS[load.app]),
                                             {"after": after, "action": load.action}))
    row = Row(load, backend, workers, result["ok"] / result["seconds"], result["p50_ms"],
              result["p99_ms"], len(responses) - len(served) + result["socket_errors"]
              + result["timeouts"],
              result["ok"], len(served), len(events),
              not load.action or Counter(events) == Counter(served),
              errors.count("Booting worker"))
    print(f"  {load.name:<22} {row.rps:8,.0f} req/s  p99 {row.p99:7.1f} ms  "
          f"non-2xx {row.failed}  2xx logged {row.logged_2xx}  events {row.events}  "
          f"boots {row.boots}", file=sys.stderr, flush=True)
    if row.failed or not row.one_each:
        explain(result, responses, served, events, errors)
    return row


# --- the hub's credentials -------------------------------------------------------------


def credentials(base: str) -> tuple[dict[str, list[str]], int]:
    """Headers per credential (a bearer token; a signed-in browser's cookie) and the case
    id: the first case police.officer sees."""
    token = requests.post(base + "/api/v1/auth/token", timeout=30,
                          json={"username": USER, "password": DEMO_PASSWORD}).json()
    bearer = {"Authorization": f"Bearer {token['access_token']}"}
    cases = requests.get(base + "/api/v1/cases", headers=bearer, timeout=30).json()["items"]
    browser = requests.Session()
    form = browser.get(base + "/sign-in", timeout=30).text
    csrf = re.search(r'name="csrf_token" value="([^"]+)"', form)[1]
    signed_in = browser.post(base + "/sign-in", allow_redirects=False, timeout=30, data={
        "username": USER, "password": DEMO_PASSWORD, "csrf_token": csrf})
    assert signed_in.status_code == 302, signed_in.status_code
    cookie = "Cookie: " + "; ".join(f"{c.name}={c.value}" for c in browser.cookies)
    return {"token": [f"Authorization: {bearer['Authorization']}"], "cookie": [cookie],
            "": []}, cases[0]["id"]


# --- one database, every worker count --------------------------------------------------


def run_backend(backend: str, worker_counts: list[int], seconds: int, work: Path) -> list[Row]:
    rows = []
    work.mkdir(parents=True)
    with database(backend, work) as url:
        env, engine = environment(work, url), create_engine(url)
        for workers in worker_counts:
            print(f"{backend}, {workers} workers", file=sys.stderr, flush=True)
            log = work / f"hub-{workers}.log"
            with serve("wsgi:app", env, workers, log, "/healthz") as hub:
                headers, case = credentials(hub.base)
                for load in (x for x in LOADS if x.app == "hub"):
                    rows.append(measure(hub, engine, load, case, headers[load.credential],
                                        seconds, backend, workers))
            log = work / f"naive-{workers}.log"
            with serve("bench.naive_app:app", env, workers, log, "/json") as naive:
                for load in (x for x in LOADS if x.app == "naive"):
                    rows.append(measure(naive, engine, load, case, [], seconds, backend,
                                        workers))
        engine.dispose()
    reference = {(r.backend, r.workers): r.rps for r in rows if r.load.name == REFERENCE}
    for row in rows:
        row.ratio = row.rps / reference[(row.backend, row.workers)]
    return sorted(rows, key=lambda r: (r.workers != worker_counts[0], LOADS.index(r.load)))


def verdict(row: Row, default_workers: int) -> str:
    if row.load.app == "naive":
        return "reference" if row.load.name == REFERENCE else ""
    missed = ["ratio"] if row.ratio < 0.5 else []
    if row.workers == default_workers:
        missed += ["non-2xx"] if row.failed else []
        missed += [] if row.one_each else ["events"]
        if row.load.name == "hub case view" and row.backend == "postgres" and row.p99 >= 50:
            missed.append("p99")
    return "missed: " + ", ".join(missed) if missed else "met"


def print_table(rows: list[Row], default_workers: int) -> None:
    head = (f"{'endpoint':<22} {'backend':<8} {'workers':>7} {'req/s':>8} {'p50 ms':>7} "
            f"{'p99 ms':>7} {'non-2xx':>7} {'wrk 2xx':>8} {'logged 2xx':>10} {'events':>7} "
            f"{'one each':>8} {'boots':>5} {'ratio':>6}  target")
    print(head)
    print("-" * len(head))
    for r in rows:
        events = f"{r.events:>7,}" if r.load.action else f"{'-':>7}"
        one_each = ("yes" if r.one_each else "NO") if r.load.action else "-"
        print(f"{r.load.name:<22} {r.backend:<8} {r.workers:>7} {r.rps:>8,.0f} {r.p50:>7.1f} "
              f"{r.p99:>7.1f} {r.failed:>7,} {r.wrk_2xx:>8,} {r.logged_2xx:>10,} {events} "
              f"{one_each:>8} {r.boots:>5} {r.ratio:>5.2f}x  {verdict(r, default_workers)}")


def machine() -> str:
    cpu = next((line.split(":", 1)[1].strip() for line in Path("/proc/cpuinfo").read_text()
                .splitlines() if line.startswith("model name")), platform.processor())
    wrk_version = subprocess.run(["wrk", "-v"], capture_output=True, text=True,  # noqa: S607
                                 check=False).stdout.split("[")[0].strip()
    return (f"{cpu}, {os.cpu_count()} CPUs, Python {platform.python_version()}, {wrk_version}, "
            f"load average {os.getloadavg()[0]:.2f}")


def main() -> None:
    default_workers = runpy.run_path(str(ROOT / CONF))["workers"]
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--seconds", type=int, default=60, help="length of each load")
    parser.add_argument("--backend", choices=["sqlite", "postgres", "both"], default="both")
    parser.add_argument("--workers", default=f"{default_workers},1",
                        help=f"comma-separated worker counts (default {default_workers},1: "
                        "deploy/gunicorn.conf.py's default, then one)")
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit("terminated"))  # stop servers, clean up
    if not shutil.which("wrk"):
        sys.exit("wrk not found: run `make system-deps` (or apt-get install wrk)")
    worker_counts = [int(n) for n in args.workers.split(",")]
    backends = ["sqlite", "postgres"] if args.backend == "both" else [args.backend]
    print(f"machine: {machine()}", flush=True)
    work = Path(tempfile.mkdtemp(prefix="bench-http-"))
    try:
        rows = [row for backend in backends
                for row in run_backend(backend, worker_counts, args.seconds, work / backend)]
    finally:
        shutil.rmtree(work, ignore_errors=True)
    print(f"\nwrk -t2 -c16, {args.seconds} s per load; load average at the end "
          f"{os.getloadavg()[0]:.2f}")
    print_table(rows, default_workers)


if __name__ == "__main__":
    main()
