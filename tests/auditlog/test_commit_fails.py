"""Fail closed when the audit event's COMMIT fails, not only its INSERT.

The shared fixtures turn the hub's commits into savepoint releases, so no real commit
happens there. These tests run on a hub of their own with real commits, and make the
database refuse the commit itself: a deferred constraint trigger on PostgreSQL, a deferred
foreign key on SQLite (both are checked at COMMIT, after the INSERT has succeeded). The
read must then answer 503 with no case data, and leave no event behind.
"""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import func, select
from sqlalchemy.engine import make_url

from hub.auditlog.models import AuditEvent
from hub.extensions import db
from tests.auditlog.conftest import backends
from tests.auditlog.test_sequencer import token_for
from tests.support.apps import demo_case_ids

SQLITE_BREAKER = (
    "CREATE TABLE commit_breaker_target (id INTEGER PRIMARY KEY)",
    "CREATE TABLE commit_breaker (ref INTEGER REFERENCES commit_breaker_target (id) "
    "DEFERRABLE INITIALLY DEFERRED)",
    "CREATE TRIGGER commit_breaker_on_event AFTER INSERT ON audit_events "
    "BEGIN INSERT INTO commit_breaker VALUES (-1); END",
)
POSTGRES_BREAKER = (
    "CREATE FUNCTION refuse_commit() RETURNS trigger LANGUAGE plpgsql AS "
    "$$ BEGIN RAISE EXCEPTION 'commit refused by the test'; END $$",
    "CREATE CONSTRAINT TRIGGER commit_breaker AFTER INSERT ON audit_events "
    "DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION refuse_commit()",
)


def break_commits(app, request) -> None:
    """As a database administrator: every later commit that holds an audit event fails."""
    url = make_url(app.config["SQLALCHEMY_DATABASE_URI"])
    with app.app_context():
        db.engine.dispose()
    if url.get_backend_name() == "postgresql":
        with request.getfixturevalue("pg_server").connect(url.database) as conn:
            for statement in POSTGRES_BREAKER:
                conn.execute(statement)
        return
    conn = sqlite3.connect(url.database)
    try:
        for statement in SQLITE_BREAKER:
            conn.execute(statement)
        conn.commit()
    finally:
        conn.close()


def events(app) -> int:
    with app.app_context():
        count = db.session.scalar(select(func.count()).select_from(AuditEvent))
        db.session.remove()
    return count


@backends
@pytest.mark.parametrize("path", ["/api/v1/cases/{id}", "/cases/{id}"])
def test_a_failed_commit_means_503_and_no_case_data(fresh, request, backend, path):
    app = fresh(backend)
    with app.app_context():
        case_id = demo_case_ids(db.session)["STAC-LON-2026-00001"]
        db.session.remove()
    header = token_for(app, "police.officer")
    client = app.test_client()
    if not path.startswith("/api/"):
        signed_in = client.post("/sign-in", data={"username": "police.officer",
                                                  "password": "demo-password-2026"})
        assert signed_in.status_code == 302
    url = path.format(id=case_id)
    ok = client.get(url, headers=header)
    assert ok.status_code == 200
    assert "Fenwick-Example" in ok.get_data(as_text=True)
    before = events(app)

    break_commits(app, request)
    refused = client.get(url, headers=header)

    assert refused.status_code == 503
    body = refused.get_data(as_text=True)
    assert "Fenwick-Example" not in body and "STAC-LON-2026-00001" not in body
    assert events(app) == before  # the refused read left no event, and nothing else
