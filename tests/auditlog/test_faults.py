"""PostgreSQL failing under the hub, on a server these tests own (so the shared one is
never stopped): no access without a record, and a record once answered survives a crash."""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.auditlog.models import AuditEvent
from hub.extensions import db
from tests.auditlog.conftest import build_on_server
from tests.auditlog.test_sequencer import token_for
from tests.support.apps import BACKENDS, demo_case_ids

pytestmark = [pytest.mark.postgres, pytest.mark.slow,
              pytest.mark.skipif("postgres" not in BACKENDS, reason="PostgreSQL left out")]


@pytest.fixture(scope="module")
def own_server():
    from tests.support.postgres import PostgresServer

    base = Path(tempfile.mkdtemp(prefix="hub-pg-faults-"))
    try:
        with PostgresServer(base / "pg", durable=True) as server:
            yield server
    finally:
        shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
def hub_on_own_server(own_server, tmp_path):
    app = build_on_server(own_server, tmp_path / f"faults-{tmp_path.name[-12:]}")
    with app.app_context():
        case_id = next(iter(demo_case_ids(db.session).values()))
        db.session.remove()
    yield app, own_server, case_id, token_for(app, "nhs.clinician")
    own_server.start()
    with app.app_context():
        db.engine.dispose()


def test_database_down_means_503_and_no_case_data(hub_on_own_server):
    app, server, case_id, header = hub_on_own_server
    client = app.test_client()
    ok = client.get(f"/api/v1/cases/{case_id}", headers=header)
    assert ok.status_code == 200
    reference = ok.get_json()["reference"]
    server.stop()
    down = client.get(f"/api/v1/cases/{case_id}", headers=header)
    assert down.status_code == 503
    assert reference not in down.get_data(as_text=True)
    assert "perpetrator" not in down.get_data(as_text=True)
    server.start()
    statuses = [client.get(f"/api/v1/cases/{case_id}", headers=header).status_code
                for _ in range(3)]  # the pool may hand out one dead connection first
    assert statuses[-1] == 200


def test_an_answered_view_survives_a_crash(hub_on_own_server):
    app, server, case_id, header = hub_on_own_server
    response = app.test_client().get(f"/api/v1/cases/{case_id}",
                                     headers={**header, "X-Request-Id": "crashtest1"})
    assert response.status_code == 200
    server.stop(mode="immediate")  # no checkpoint: recovery replays the WAL
    with app.app_context():
        db.engine.dispose()
    server.start()
    with app.app_context():
        actions = list(db.session.scalars(
            select(AuditEvent.action).where(AuditEvent.request_id == "crashtest1")))
        db.session.remove()
    assert actions == ["case:read"]
