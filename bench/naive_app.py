"""The three naive reference endpoints of bench/bench_http.py, served by gunicorn with the
hub's own settings, on the hub's own database (``DATABASE_URL``, as the hub_app role on
PostgreSQL):

    DATABASE_URL=sqlite:///instance/hub.sqlite3 \
        gunicorn -c deploy/gunicorn.conf.py bench.naive_app:app

    GET /json               bare Flask JSON
    GET /select/<id>        one SELECT of a case by its primary key
    GET /audited/<id>       the same SELECT, then an INSERT into naive_events committed
                            (durably) before the response: the least an audited read costs

The connections get the hub's settings (hub/extensions.py), copied here rather than imported
so that a worker boots as fast as a naive app does (gunicorn recycles workers every ~1000
requests): on SQLite foreign keys, WAL, busy_timeout 5000, BEGIN IMMEDIATE for a
transaction that writes (BEGIN for the SELECT alone), synchronous left at SQLite's default
(FULL) as the hub leaves it; on PostgreSQL jit off. The harness creates naive_events (and
grants it to hub_app).
"""

import os

from flask import Flask, jsonify, request
from sqlalchemy import create_engine, event, text

app = Flask(__name__)
engine = create_engine(os.environ["DATABASE_URL"])  # one pool per gunicorn worker
SQLITE = engine.dialect.name == "sqlite"
CASE = text("SELECT id, reference, status, risk_level FROM cases WHERE id = :id")
EVENT = text("INSERT INTO naive_events (at, request_id, action, case_id) "
             "VALUES (CURRENT_TIMESTAMP, :request_id, 'naive:read', :case_id)")


@event.listens_for(engine, "connect")
def _settings(dbapi_connection, _record):
    if not SQLITE:
        dbapi_connection.execute("SET jit = off")
        dbapi_connection.commit()
        return
    dbapi_connection.isolation_level = None  # BEGIN is issued below
    for pragma in ("foreign_keys=ON", "journal_mode=WAL", "busy_timeout=5000"):
        dbapi_connection.execute(f"PRAGMA {pragma}")


@event.listens_for(engine, "begin")
def _begin(connection):
    if SQLITE:
        reader = connection.get_execution_options().get("reader")
        connection.exec_driver_sql("BEGIN" if reader else "BEGIN IMMEDIATE")


@app.get("/json")
def bare():
    return jsonify(status="ok")


@app.get("/select/<int:case_id>")
def select(case_id: int):
    with engine.connect().execution_options(reader=True) as connection, connection.begin():
        case = connection.execute(CASE, {"id": case_id}).one()
    return jsonify(dict(case._mapping))


@app.get("/audited/<int:case_id>")
def audited(case_id: int):
    with engine.begin() as connection:  # committed when the block ends, before responding
        case = connection.execute(CASE, {"id": case_id}).one()
        connection.execute(EVENT, {"case_id": case_id,
                                   "request_id": request.headers.get("X-Request-Id", "")})
    return jsonify(dict(case._mapping))
