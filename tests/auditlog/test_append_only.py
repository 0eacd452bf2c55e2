"""Least privilege: nobody rewrites the tree through the hub's own connection.

On PostgreSQL the hub connects as hub_app, which holds only SELECT and INSERT on the
audit tables; on both databases the triggers refuse UPDATE and DELETE (and TRUNCATE).
"""

from __future__ import annotations

import psycopg
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError

from hub.auditlog import sequencer
from hub.extensions import db
from tests.auditlog.conftest import AUDIT_TABLES

CHANGES = {"UPDATE": "UPDATE {t} SET {c} = {c}", "DELETE": "DELETE FROM {t}",
           "TRUNCATE": "TRUNCATE {t}"}
FIRST_COLUMN = {"audit_events": "seq", "audit_subjects": "seq", "audit_leaves": "seq",
                "audit_nodes": "level", "audit_checkpoints": "note"}


@pytest.fixture(scope="module")
def sequenced(app):
    """Make sure every audit table has rows, so a refused change had something to change."""
    with app.app_context():
        sequencer.run_once()
        db.session.remove()


@pytest.mark.parametrize("table", AUDIT_TABLES)
@pytest.mark.parametrize("verb", CHANGES)
def test_the_hub_cannot_change_audit_rows(app, sequenced, table, verb):
    if verb == "TRUNCATE" and app.config["BACKEND"] == "sqlite":
        pytest.skip("SQLite has no TRUNCATE; DELETE covers it")
    statement = CHANGES[verb].format(t=table, c=FIRST_COLUMN[table])
    with app.app_context(), db.engine.connect() as conn:
        count = text(f"SELECT count(*) FROM {table}")  # noqa: S608 -- a name from AUDIT_TABLES
        assert conn.execute(count).scalar() > 0
        with pytest.raises(DBAPIError) as refused:
            conn.execute(text(statement))
        conn.rollback()
    message = str(refused.value.orig).lower()
    assert "permission denied" in message or "append-only" in message


@pytest.mark.postgres
@pytest.mark.parametrize("table", ["audit_leaves", "audit_nodes", "audit_checkpoints"])
def test_even_the_owner_is_refused_by_the_trigger(pg_server, app, sequenced, table):
    if app.config["BACKEND"] != "postgres":
        pytest.skip("the owner/app split is PostgreSQL's")
    from sqlalchemy.engine import make_url

    database = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    with pg_server.connect(database) as conn, conn.cursor() as cur:
        cur.execute("SET ROLE hub_owner")
        with pytest.raises(psycopg.errors.InsufficientPrivilege, match="append-only"):
            cur.execute(f"DELETE FROM {table}")  # noqa: S608 -- a name from the list above
