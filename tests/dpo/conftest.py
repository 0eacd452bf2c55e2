"""Helpers for the DPO console's tests: the web pages as a demo user, the demo case ids."""

from __future__ import annotations

import pytest

from tests.support.factories import sign_in

DPO_API_GETS = ["/audit/events", "/audit/events.csv", "/audit/cases/1/history",
                "/audit/people/1/history", "/audit/users/advocate/history",
                "/people/1/subject-access", "/dpo/alerts", "/dpo/retention/queue"]
NON_DPO = ["police.officer", "police.supervisor", "nhs.clinician", "probation.officer",
           "cps.prosecutor", "advocate", "outsider.officer", "admin"]


@pytest.fixture
def web(client):
    """``web("dpo")``: the test client signed in to the web pages as a demo user."""

    def as_user(username: str):
        client.post("/sign-out")
        sign_in(client, username)
        return client

    return as_user


def case_ids(api, username: str = "police.officer") -> list[int]:
    return sorted(c["id"] for c in api(username).get("/cases?per_page=50").json["items"])
