"""The policy page for DPOs and administrators, and the audited record of policy changes."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select

from hub.auditlog.models import AuditEvent
from hub.policy import load_policy
from hub.policy.changes import ACTION, reset
from tests.support.factories import page_text, sign_in

POLICIES = Path(__file__).resolve().parents[2] / "policies"


@pytest.mark.parametrize("username", ["dpo", "admin"])
def test_dpo_and_admin_see_the_matrix_and_its_rules(client, username):
    sign_in(client, username)
    response = client.get("/policy/")
    assert response.status_code == 200
    html = response.get_data(as_text=True)
    text = page_text(html)
    assert "govuk-table" in html and "Access policy" in text
    assert load_policy(POLICIES).digest in text
    assert 'data-cell="nhs/clinician/victim.location">\n      -' in html  # DOMAIN rule 3
    assert "never-victim-location-to-perpetrator-facing" in text
    assert "R (safety_plan only)" in text and "(not when closed)" in text
    reads = [e for e in _events("policy:read") if e.username == username]
    assert reads and reads[-1].details["digest"] == load_policy(POLICIES).digest


@pytest.mark.parametrize("username", ["police.officer", "nhs.clinician", "probation.officer",
                                      "cps.prosecutor", "advocate", "outsider.officer"])
def test_case_workers_may_not_see_the_policy_page(client, username):
    sign_in(client, username)
    response = client.get("/policy/")
    assert response.status_code == 403
    assert "never-victim-location" not in response.get_data(as_text=True)
    denied = [e for e in _events("policy:read") if e.username == username]
    assert denied and denied[-1].outcome == "denied"


def test_signed_out_visitors_are_sent_to_sign_in(client):
    response = client.get("/policy/")
    assert response.status_code == 302 and "/sign-in" in response.headers["Location"]


def _events(action: str) -> list[AuditEvent]:
    from hub.extensions import db

    return list(db.session.scalars(select(AuditEvent).where(AuditEvent.action == action)
                                   .order_by(AuditEvent.seq)))


def _changes() -> list[AuditEvent]:
    return _events(ACTION)


def test_a_new_policy_digest_is_audited_once_per_change(app, client, tmp_path):
    original = app.extensions["hub.policy"]
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    with (copy / "areas" / "london.yaml").open("a") as f:
        f.write("# reviewed by the DPO\n")
    changed = load_policy(copy)
    try:
        reset(app)
        client.get("/healthz")
        first = _changes()
        assert first and first[-1].details["new_digest"] == original.digest
        client.get("/healthz")
        reset(app)  # a new process with the same policy records nothing
        client.get("/healthz")
        assert len(_changes()) == len(first)

        app.extensions["hub.policy"] = changed  # the hub restarts with an edited policy
        reset(app)
        client.get("/healthz")
        event = _changes()[-1]
        assert len(_changes()) == len(first) + 1
        assert event.details["old_digest"] == original.digest
        assert event.details["new_digest"] == changed.digest == event.policy_digest
        assert event.outcome == "allowed" and event.username is None
    finally:
        app.extensions["hub.policy"] = original
        reset(app)


def test_no_request_is_served_when_the_change_cannot_be_recorded(app, client, monkeypatch):
    from hub.auditlog import writer

    def refuse(*_args, **_kwargs):
        raise writer.AuditUnavailable

    monkeypatch.setattr(writer, "record_now", refuse)
    monkeypatch.setattr("hub.policy.changes.last_recorded_digest", lambda: "an older digest")
    reset(app)
    try:
        response = client.get("/api/v1/cases")
        assert response.status_code == 503
    finally:
        reset(app)
