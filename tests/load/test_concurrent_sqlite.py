"""The embedded default under ordinary concurrency: gunicorn with several workers on one
SQLite file answers every request, and records exactly one audit event for each.

A read transaction that later writes cannot be upgraded on SQLite once another process has
committed (SQLITE_BUSY at once, whatever the busy timeout), so without care most requests
of a busy team answered 503. This drives the real server, as `make run` serves it.
"""

from __future__ import annotations

import http.client
import json
import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path

import pytest

from tests.support.apps import ROOT

BIN = Path(sys.executable).parent
# A fixed number of requests, not a time: on a busy machine the load is the same load.
CLIENTS, REQUESTS, WORKERS = 8, 15, 4


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """A migrated, seeded SQLite hub served by gunicorn with the deploy settings."""
    instance = tmp_path_factory.mktemp("hub-load")
    env = {**os.environ, "HUB_INSTANCE_DIR": str(instance), "HUB_ENV": "development",
           "DATABASE_URL": f"sqlite:///{instance / 'hub.sqlite3'}", "HUB_DEMO": "1",
           "WEB_CONCURRENCY": str(WORKERS), "HUB_PORT": str(_free_port()),
           "HUB_SEQUENCER_INTERVAL": "0.5"}
    for command in (["db", "upgrade"], ["seed-demo"]):
        subprocess.run([BIN / "hub", *command], env=env, cwd=ROOT, check=True,  # noqa: S603 -- fixed
                       capture_output=True)
    proc = subprocess.Popen(  # noqa: S603 -- our own server, fixed arguments
        [BIN / "gunicorn", "-c", "deploy/gunicorn.conf.py", "wsgi:app"],
                            env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    port = int(env["HUB_PORT"])
    try:
        _wait_until_up(port, proc)
        yield port, instance / "hub.sqlite3"
    finally:
        proc.terminate()
        proc.wait(timeout=30)


def _wait_until_up(port: int, proc) -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("gunicorn exited")
        try:
            _call(port, "/healthz", "startup")
            return
        except OSError:
            time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


def _call(port: int, path: str, request_id: str, token: str | None = None,
          body: dict | None = None) -> tuple[int, bytes]:
    headers = {"X-Request-Id": request_id, "Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=30)
    try:
        connection.request("POST" if body is not None else "GET", path,
                           body=json.dumps(body) if body is not None else None, headers=headers)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_concurrent_clients_all_answered_each_with_one_audit_event(server):
    port, database = server
    status, body = _call(port, "/api/v1/auth/token", "tokenrequest", body={
        "username": "police.officer", "password": "demo-password-2026"})
    assert status == 200, body
    token = json.loads(body)["access_token"]
    paths = ["/api/v1/cases/1", "/api/v1/cases", "/api/v1/cases/2/notes",
             "/api/v1/cases?q=Fenwick"]
    results: list[tuple[int, str]] = []
    lock = threading.Lock()

    def client(n: int) -> None:
        for i in range(REQUESTS):
            request_id = f"load{uuid.uuid4().hex}"
            status, _ = _call(port, paths[(n + i) % len(paths)], request_id, token)
            with lock:
                results.append((status, request_id))

    threads = [threading.Thread(target=client, args=(n,)) for n in range(CLIENTS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    statuses = [s for s, _ in results]
    assert len(results) == CLIENTS * REQUESTS
    assert [s for s in statuses if not 200 <= s < 300] == [], \
        f"{sum(1 for s in statuses if s >= 300)} of {len(statuses)} requests failed"
    with sqlite3.connect(database) as conn:
        counted = dict(conn.execute(
            "SELECT request_id, count(*) FROM audit_events WHERE request_id LIKE 'load%' "
            "GROUP BY request_id").fetchall())
    assert {rid: counted.get(rid, 0) for _, rid in results} == {rid: 1 for _, rid in results}
