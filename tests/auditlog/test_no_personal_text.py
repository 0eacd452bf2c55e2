"""Erasure must not break verification, so events hold ids, never personal free text:
what a user types (names, addresses, notes, break-glass reasons, search terms) must not
reach a hashed event."""

from __future__ import annotations

import json

from sqlalchemy import select

from audit import verify_log
from hub.auditlog import sequencer
from hub.auditlog.cli import leaf_events
from hub.auditlog.models import AuditEvent
from hub.auditlog.tree import AuditCheckpoint, event_dict
from tests.support.apps import demo_case_ids

MARKS = ["Zebulon Quaint", "Ottilie Marchbank", "7 Larkspur Mews", "07700 900123",
         "Disclosed her new workplace", "Urgent welfare concern Q7"]


def test_typed_text_never_reaches_an_event(api, session):
    created = api("police.officer").post("/cases", json={
        "perpetrator": {"name": MARKS[0]},
        "victims": [{"name": MARKS[1], "address": MARKS[2], "phone": MARKS[3]}]})
    assert created.status_code == 201
    case_id = created.get_json()["id"]
    other = next(iter(demo_case_ids(session).values()))
    calls = [api("police.officer").post(f"/cases/{case_id}/notes",
                                        json={"body": MARKS[4], "class": "case.core"}),
             api("police.supervisor").post(f"/cases/{other}/break-glass",
                                           json={"reason": MARKS[5] + " for the victim"}),
             api("police.officer").get(f"/cases?q={MARKS[0].split()[0]}"),
             api("police.officer").get(f"/cases/{case_id}")]
    assert [c.status_code for c in calls] == [201, 200, 200, 200]
    events = json.dumps([event_dict(e) for e in session.scalars(select(AuditEvent))])
    for mark in [*MARKS, MARKS[0].split()[0]]:
        assert mark not in events


def test_the_sequenced_log_verifies_in_process(app, api, session):
    """The same reading of the database as `hub audit verify`, inside one transaction."""
    sequencer.run_once()
    other = next(iter(demo_case_ids(session).values()))
    assert api("police.officer").get(f"/cases/{other}").status_code == 200
    sequencer.run_once()
    notes = [cp.note for cp in session.scalars(select(AuditCheckpoint))]
    signer = sequencer.signer()
    report = verify_log(leaf_events(), notes, signer.public_key, signer.name)
    assert report.ok, report.problems
    assert report.covered == report.leaves
