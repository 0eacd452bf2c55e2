"""Helpers for the DPO console's tests: web sign-in as a demo user, and direct SQL counts."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hub.accounts.security import DEMO_PASSWORD
from hub.auditlog.models import AuditEvent
from hub.extensions import db

DPO_API_GETS = ["/audit/events", "/audit/events.csv", "/audit/cases/1/history",
                "/audit/people/1/history", "/audit/users/advocate/history",
                "/people/1/subject-access", "/dpo/alerts", "/dpo/retention/queue"]
NON_DPO = ["police.officer", "police.supervisor", "nhs.clinician", "probation.officer",
           "cps.prosecutor", "advocate", "outsider.officer", "admin"]


@pytest.fixture
def web(client):
    """``web("dpo")``: the test client signed in to the web pages as a demo user."""

    def sign_in(username: str):
        client.post("/sign-out")
        response = client.post("/sign-in", data={"username": username,
                                                 "password": DEMO_PASSWORD})
        assert response.status_code == 302, response.text
        return client

    return sign_in


def last_seq() -> int:
    return db.session.scalar(select(func.max(AuditEvent.seq))) or 0


def events_after(seq: int, action: str | None = None) -> list[AuditEvent]:
    query = select(AuditEvent).where(AuditEvent.seq > seq).order_by(AuditEvent.seq)
    if action:
        query = query.where(AuditEvent.action == action)
    return list(db.session.scalars(query))


def case_ids(api, username: str = "police.officer") -> list[int]:
    return sorted(c["id"] for c in api(username).get("/cases?per_page=50").json["items"])
