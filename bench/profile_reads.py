"""Where a read spends its time, in process: statements and Python calls per request, and
the hub's own functions by cumulative time (cProfile), for the case view, the case list
and the case page on a seeded SQLite hub.

    .venv/bin/python bench/profile_reads.py                  # 200 requests of each
    .venv/bin/python bench/profile_reads.py --requests 500 --top 15

Counts of statements and calls do not depend on the machine's load, so they compare
changes fairly on a busy machine; the milliseconds (with the profiler's own overhead) do.
"""

from __future__ import annotations

import argparse
import cProfile
import io
import logging
import pstats
import tempfile
import time
from pathlib import Path

from flask_migrate import upgrade
from sqlalchemy import event, select

from hub import create_app
from hub.extensions import db

PASSWORD = "demo-password-2026"  # noqa: S105 -- the demo users' published password
ROUTES = [("API case view", "/api/v1/cases/1", "token"),
          ("API case list", "/api/v1/cases", "token"),
          ("case page (HTML)", "/cases/1", "cookie")]


def seeded_app():
    from hub.accounts import operations
    from hub.accounts.models import User
    from hub.seed import seed_demo

    instance = Path(tempfile.mkdtemp(prefix="hub-profile-"))
    app = create_app({"HUB_ENV": "test", "HUB_INSTANCE_DIR": str(instance),
                      "RATELIMIT_ENABLED": False, "WTF_CSRF_ENABLED": False,
                      "SQLALCHEMY_DATABASE_URI": f"sqlite:///{instance / 'hub.sqlite3'}"})
    with app.app_context():
        upgrade()
        seed_demo()
        with app.test_request_context():
            user = db.session.scalar(select(User).where(User.username == "police.officer"))
            token, _ttl = operations.issue_token(user)
        db.session.remove()
    return app, token


def profile(app, token: str, path: str, how: str, requests: int, top: int) -> str:
    client = app.test_client()
    headers = {"Authorization": f"Bearer {token}"} if how == "token" else {}
    if how == "cookie":
        client.post("/sign-in", data={"username": "police.officer", "password": PASSWORD})
    for _ in range(20):  # warm: compiled statements, templates, unwrapped keys
        assert client.get(path, headers=headers).status_code == 200, path
    best = float("inf")  # without the profiler: the best of five rounds of 50
    for _ in range(5):
        started = time.perf_counter()
        for _ in range(50):
            client.get(path, headers=headers)
        best = min(best, (time.perf_counter() - started) / 50)
    statements = []
    with app.app_context():
        engine = db.engine
    counter = lambda *_args: statements.append(1)  # noqa: E731
    event.listen(engine, "before_cursor_execute", counter)
    profiler = cProfile.Profile()
    started = time.perf_counter()
    profiler.enable()
    for _ in range(requests):
        client.get(path, headers=headers)
    profiler.disable()
    elapsed = time.perf_counter() - started
    event.remove(engine, "before_cursor_execute", counter)
    out = io.StringIO()
    stats = pstats.Stats(profiler, stream=out)
    calls = stats.total_calls  # type: ignore[attr-defined]
    stats.sort_stats("cumulative").print_stats(r"/hub/", top)
    lines = [line for line in out.getvalue().splitlines()
             if "/hub/" in line and line.lstrip()[:1].isdigit()]
    return "\n".join([
        f"{path}: {len(statements) / requests:.1f} statements, {calls / requests:,.0f} Python "
        f"calls; {best * 1000:.1f} ms a request (best of 5 x 50), "
        f"{elapsed / requests * 1000:.1f} ms profiled",
        "  ncalls  tottime  percall  cumtime  percall function", *lines])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--top", type=int, default=12, help="hub functions shown per route")
    args = parser.parse_args()
    logging.disable(logging.INFO)
    app, token = seeded_app()
    for name, path, how in ROUTES:
        print(f"== {name}")
        print(profile(app, token, path, how, args.requests, args.top))


if __name__ == "__main__":
    main()
