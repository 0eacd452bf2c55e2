"""Shared fixtures: the hub on SQLite and on a real PostgreSQL server, one transaction per test.

Every test that takes ``app`` runs once per backend. PostgreSQL is a private server that the
session starts (tests/support/postgres.py); the hub connects to it as the least-privileged
``hub_app`` role, after migrations ran as ``hub_owner`` and deploy/postgres/grants.sql was
applied, exactly as in production. Set HUB_TEST_BACKENDS=sqlite for a quick local run.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from flask import g
from flask.testing import FlaskClient
from sqlalchemy.orm import scoped_session, sessionmaker

from hub.extensions import db
from tests.support.apps import BACKENDS, DEMO_USERS, demo_app

# Tests of a minute or more, started first: xdist hands each worker its share in this
# order, so the workers end together instead of one fuzzing alone at the end.
LONG_FIRST = ("tests/security/test_schemathesis.py", "tests/browser/", "tests/load/",
              "tests/auditlog/test_tamper.py")


def pytest_xdist_auto_num_workers(config) -> int | None:
    """One worker more than the cores this process may use (`-n auto`): a third of the
    time a worker waits on Chromium, PostgreSQL or a child process, and the spare worker
    fills it. PYTEST_XDIST_AUTO_NUM_WORKERS, when set, still decides (xdist reads it)."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None
    return len(os.sched_getaffinity(0)) + 1


def pytest_collection_modifyitems(config, items):
    """A test (or parameter) marked ``only_on("sqlite")`` runs on that backend alone: its
    items for the other backends are deselected, not skipped, as they were never meant.
    The long tests go first."""
    kept, dropped = [], []
    for item in items:
        marker = item.get_closest_marker("only_on")
        backend = item.callspec.params.get("app") if hasattr(item, "callspec") else None
        (dropped if marker and backend and backend not in marker.args else kept).append(item)
    if dropped:
        config.hook.pytest_deselected(items=dropped)
    items[:] = sorted(kept, key=lambda item: not item.nodeid.startswith(LONG_FIRST))


@pytest.fixture(autouse=True)
def no_sequencer_left_running():
    """A scheduled sequencer thread left behind by a test would go on writing through
    ``db.session``, which later tests point at their own transactions: each test that
    starts one must stop it (``sequencer.stop``)."""
    yield
    left = [t.name for t in threading.enumerate() if t.name == "audit-sequencer"]
    assert not left, "a scheduled audit sequencer is still running after the test"


@pytest.fixture(scope="session")
def pg_server():
    """One private server per test session, in its own folder (not pytest's, which a
    concurrent pytest run may clean up under the running server)."""
    from tests.support.postgres import PostgresServer

    base = Path(tempfile.mkdtemp(prefix="hub-pg-"))
    try:
        with PostgresServer(base / "pg") as server:
            yield server
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture(scope="session", params=BACKENDS)
def app(request, tmp_path_factory):
    app = demo_app(request.param, tmp_path_factory.mktemp(f"hub-{request.param}"), request)
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture(scope="session")
def tokens(app) -> dict[str, dict[str, str]]:
    """An Authorization header for every demo user, issued once per backend."""
    from sqlalchemy import select

    from hub.accounts import operations
    from hub.accounts.models import User

    headers = {}
    with app.test_request_context():
        for username in DEMO_USERS:
            user = db.session.scalar(select(User).where(User.username == username))
            token, _ttl = operations.issue_token(user)
            headers[username] = {"Authorization": f"Bearer {token}"}
    return headers


@pytest.fixture
def session(app):
    """Run the test inside a transaction that is rolled back afterwards (savepoints).

    The hub's own commits become savepoint releases, so each test sees the demo data
    fresh and leaves nothing behind, without rebuilding the database.
    """
    with app.app_context():
        connection = db.engine.connect()
        outer = connection.begin()
        scoped = scoped_session(sessionmaker(bind=connection, expire_on_commit=False,
                                             join_transaction_mode="create_savepoint"))
        original, db.session = db.session, scoped
        try:
            yield scoped
        finally:
            scoped.remove()
            outer.rollback()
            connection.close()
            db.session = original


class FreshGlobalsClient(FlaskClient):
    """A test client whose every request starts with an empty ``g``, as in production.

    ``session`` holds an app context open for the whole test, so Flask reuses it (and its
    ``g``) for every request; Flask-Login would then serve the previous request's user from
    ``g._login_user`` whatever cookie a later request carries.
    """

    def open(self, *args, **kwargs):
        g._get_current_object().__dict__.clear()
        return super().open(*args, **kwargs)


@pytest.fixture
def client(app, session):
    return FreshGlobalsClient(app, app.response_class)


@pytest.fixture
def api(client, tokens):
    """``api("nhs.clinician").get("/cases")``: the JSON API as a demo user."""

    class As:
        def __init__(self, username: str | None):
            self.headers = tokens[username] if username else {}

        def __getattr__(self, method):
            def call(path, **kwargs):
                headers = {**self.headers, **kwargs.pop("headers", {})}
                return getattr(client, method)(f"/api/v1{path}", headers=headers, **kwargs)
            return call

    return As
