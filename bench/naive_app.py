"""The three naive reference endpoints of bench/bench_http.py, served by gunicorn with the
hub's own settings, on the hub's own database (``DATABASE_URL``, as the hub_app role on
PostgreSQL):

    DATABASE_URL=sqlite:///instance/hub.sqlite3 \
        gunicorn -c deploy/gunicorn.conf.py bench.naive_app:app

    GET /json               bare Flask JSON
    GET /select/<id>        one SELECT of a case by its primary key
    GET /audited/<id>       the same SELECT, then an INSERT into naive_events committed
                            (durably) before the response: the least an audited read costs

Importing hub.extensions gives these connections exactly the hub's settings: on SQLite WAL,
busy_timeout and BEGIN IMMEDIATE for a transaction that writes (synchronous is SQLite's
default, FULL, as in the hub, which sets none); on PostgreSQL jit off. The harness creates
naive_events (and grants it to hub_app).
"""

import os
from datetime import UTC, datetime

from flask import Flask, jsonify, request
from sqlalchemy import create_engine, text

from hub.extensions import READ_ONLY  # also registers the hub's connection settings

app = Flask(__name__)
engine = create_engine(os.environ["DATABASE_URL"])  # one pool per gunicorn worker
CASE = text("SELECT id, reference, status, risk_level FROM cases WHERE id = :id")
EVENT = text("INSERT INTO naive_events (at, request_id, action, case_id) "
             "VALUES (:at, :request_id, 'naive:read', :case_id)")


@app.get("/json")
def bare():
    return jsonify(status="ok")


@app.get("/select/<int:case_id>")
def select(case_id: int):
    with engine.connect().execution_options(**READ_ONLY) as connection, connection.begin():
        case = connection.execute(CASE, {"id": case_id}).one()
    return jsonify(dict(case._mapping))


@app.get("/audited/<int:case_id>")
def audited(case_id: int):
    with engine.begin() as connection:  # committed when the block ends, before responding
        case = connection.execute(CASE, {"id": case_id}).one()
        connection.execute(EVENT, {"at": datetime.now(UTC), "case_id": case_id,
                                   "request_id": request.headers.get("X-Request-Id", "")})
    return jsonify(dict(case._mapping))
