"""A body shorter than its Content-Length, sent to the hub as `make run` serves it: gunicorn
sync workers from deploy/gunicorn.conf.py, with no buffering proxy in front.

Without a bound on the wait, the worker sat on the socket until gunicorn's 30-second
timeout killed it, and the client got a 500. The test starts a real gunicorn on a free
loopback port, on the same database as the rest of the suite, and talks to it over a raw
socket."""

from __future__ import annotations

import os
import runpy
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.support.apps import ROOT

CLIENT_TIMEOUT = 2  # seconds, set through GUNICORN_CLIENT_TIMEOUT to keep the test short
WORKER_TIMEOUT = 30  # deploy/gunicorn.conf.py `timeout`


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _wait_until_up(port: int, process: subprocess.Popen, deadline: float) -> None:
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"gunicorn exited with {process.returncode}")
        try:
            if _exchange(port, b"GET /healthz HTTP/1.1\r\nHost: hub\r\n\r\n").startswith(
                    b"HTTP/1.1 200"):
                return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("gunicorn did not start")


@pytest.fixture(scope="module")
def gunicorn(app, tmp_path_factory):
    """gunicorn -c deploy/gunicorn.conf.py wsgi:app, on this backend's database."""
    tmp_path = tmp_path_factory.mktemp("gunicorn")
    port = _free_port()
    env = {**os.environ, "HUB_PORT": str(port), "WEB_CONCURRENCY": "1",
           "GUNICORN_CLIENT_TIMEOUT": str(CLIENT_TIMEOUT), "RUNTIME_DIRECTORY": str(tmp_path),
           "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"], "HUB_ENV": "test",
           "HUB_INSTANCE_DIR": app.config["HUB_INSTANCE_DIR"]}
    gunicorn_bin = Path(sys.executable).with_name("gunicorn")
    log = (tmp_path / "gunicorn.log").open("w")
    process = subprocess.Popen(  # noqa: S603 -- our own venv's gunicorn, fixed arguments
        [str(gunicorn_bin), "-c", "deploy/gunicorn.conf.py", "wsgi:app"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    try:
        _wait_until_up(port, process, time.monotonic() + 60)
        yield port
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def _exchange(port: int, raw: bytes, *, pause_after: int | None = None,
              wait: float = WORKER_TIMEOUT + 10) -> bytes:
    """Send ``raw`` (pausing a second after ``pause_after`` bytes) and read the whole reply."""
    with socket.create_connection(("127.0.0.1", port), timeout=wait) as s:
        if pause_after is None:
            s.sendall(raw)
        else:
            s.sendall(raw[:pause_after])
            time.sleep(1)
            s.sendall(raw[pause_after:])
        reply = b""
        while chunk := s.recv(65536):
            reply += chunk
    return reply


def _post(path: str, content_type: str, body: bytes, length: int) -> bytes:
    return (f"POST {path} HTTP/1.1\r\nHost: hub\r\nContent-Type: {content_type}\r\n"
            f"Content-Length: {length}\r\nConnection: close\r\n\r\n").encode() + body


@pytest.mark.parametrize(("path", "content_type", "body"), [
    ("/api/v1/auth/token", "application/json", b'{"username": "police.officer"'),
    ("/sign-in", "application/x-www-form-urlencoded", b"username=police.officer&pass"),
])
def test_a_body_shorter_than_its_length_ends_promptly_with_400(gunicorn, path, content_type,
                                                               body):
    started = time.monotonic()
    reply = _exchange(gunicorn, _post(path, content_type, body, len(body) + 100))
    elapsed = time.monotonic() - started
    assert reply.startswith(b"HTTP/1.1 400"), reply[:200]
    assert elapsed < CLIENT_TIMEOUT + 5 < WORKER_TIMEOUT, elapsed


def test_a_whole_body_sent_in_two_parts_is_still_read(gunicorn):
    """The bound is on silence, not on the whole upload: a pause shorter than it is fine."""
    body = b'{"username": "police.officer", "password": "wrong password"}'
    reply = _exchange(gunicorn, _post("/api/v1/auth/token", "application/json", body,
                                      len(body)), pause_after=-10)
    assert reply.startswith(b"HTTP/1.1 401"), reply[:200]


def test_the_shipped_bound_is_well_inside_the_worker_timeout(monkeypatch):
    monkeypatch.delenv("GUNICORN_CLIENT_TIMEOUT", raising=False)
    settings = runpy.run_path(str(ROOT / "deploy/gunicorn.conf.py"))
    assert settings["timeout"] == WORKER_TIMEOUT
    assert 1 <= settings["client_timeout"] <= WORKER_TIMEOUT // 3
