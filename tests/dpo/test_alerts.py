"""The alert queue: break-glass raises one at once; the anomaly rules (hub/dpo/rules.yaml)
raise the others from `hub dpo scan`; a DPO closes each with an outcome and a note."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from sqlalchemy import select

from hub.accounts.models import User
from hub.auditlog import writer as audit
from hub.cases.models import Case, Membership
from hub.dpo import rules
from hub.dpo.models import Alert
from hub.extensions import db
from hub.timeutil import utcnow
from tests.dpo.conftest import case_ids
from tests.support.factories import events_since, last_seq

REASON = "Victim Claire Example-Holt reported a threat at 7 Sample Street"


def _rule(rule_id: str) -> dict:
    return next(r for r in rules.load() if r["id"] == rule_id)


def _scan(*rule_list, since=None, until=None):
    until = until or utcnow() + timedelta(seconds=1)
    return rules.scan(since or until - timedelta(hours=2), until, list(rule_list))


def _user(username: str) -> User:
    return db.session.scalar(select(User).where(User.username == username))


def _off_team_case(api) -> int:
    """A new case the supervisor is not on, made by the officer."""
    return api("police.officer").post("/cases", json={
        "perpetrator": {"name": "Perp Alertcase"},
        "victims": [{"name": "Victim Alertcase", "address": "1 Secret Row"}]}).json["id"]


def test_break_glass_raises_an_alert_at_once_without_personal_data(api, session):
    case_id = _off_team_case(api)
    seq = last_seq()
    assert api("police.supervisor").post(f"/cases/{case_id}/break-glass",
                                         json={"reason": REASON}).status_code == 200
    [event] = events_since(seq, "case:break-glass")
    body = api("dpo").get("/dpo/alerts").json
    [alert] = [a for a in body["items"] if a["rule"] == "break-glass"]
    assert alert["event_seqs"] == [event.seq] and alert["severity"] == "high"
    assert (alert["case_id"], alert["status"]) == (case_id, "open")
    for personal in ("Claire", "Sample Street", "Alertcase", "police.supervisor", "Marlow"):
        assert personal not in alert["title"]
    shown = api("dpo").get(f"/dpo/alerts/{alert['id']}")
    assert shown.status_code == 200 and shown.json["id"] == alert["id"]


def test_a_dpo_closes_an_alert_with_outcome_and_note_audited(api, session):
    case_id = _off_team_case(api)
    api("police.supervisor").post(f"/cases/{case_id}/break-glass", json={"reason": REASON})
    alert_id = api("dpo").get("/dpo/alerts").json["items"][0]["id"]
    bad = api("dpo").post(f"/dpo/alerts/{alert_id}/close", json={"outcome": "fine", "note": "x"})
    assert bad.status_code == 400 and bad.json["error"]["field"] == "outcome"
    missing = api("dpo").post(f"/dpo/alerts/{alert_id}/close", json={"outcome": "justified"})
    assert missing.status_code == 400 and missing.json["error"]["field"] == "note"
    seq = last_seq()
    closed = api("dpo").post(f"/dpo/alerts/{alert_id}/close",
                             json={"outcome": "justified", "note": "Checked with the DI."})
    assert closed.status_code == 200
    assert (closed.json["status"], closed.json["outcome"]) == ("closed", "justified")
    [event] = events_since(seq, "alert:close")
    assert event.username == "dpo" and event.details["alert_id"] == alert_id
    again = api("dpo").post(f"/dpo/alerts/{alert_id}/close",
                            json={"outcome": "justified", "note": "again"})
    assert again.status_code == 409
    assert api("dpo").get("/dpo/alerts?status=closed").json["total"] == 1
    assert api("dpo").get("/dpo/alerts?status=weird").status_code == 400
    assert api("dpo").get("/dpo/alerts/999999").status_code == 404


def test_out_of_hours_rule_flags_nights_weekends_and_bank_holidays(session):
    officer = _user("police.officer")
    moments = {"weekday-night": datetime(2026, 11, 24, 23, 30, tzinfo=UTC),
               "saturday": datetime(2026, 11, 21, 12, 0, tzinfo=UTC),
               "bank-holiday": datetime(2026, 12, 25, 11, 0, tzinfo=UTC),
               "working": datetime(2026, 11, 24, 10, 0, tzinfo=UTC)}
    for moment in moments.values():
        with time_machine.travel(moment, tick=False):
            audit.record("case:read", case_id=1, user=officer)
    raised = _scan(_rule("out-of-hours"), since=datetime(2026, 11, 20, tzinfo=UTC),
                   until=datetime(2026, 12, 31, tzinfo=UTC))
    days = sorted(a.key.rsplit(":", 1)[1] for a in raised)
    assert days == ["2026-11-21", "2026-11-24", "2026-12-25"]
    night = next(a for a in raised if a.key.endswith("2026-11-24"))
    assert len(night.events) == 1  # the 10:00 access is in working hours
    again = _scan(_rule("out-of-hours"), since=datetime(2026, 11, 20, tzinfo=UTC),
                  until=datetime(2026, 12, 31, tzinfo=UTC))
    assert again == []  # scanning twice raises nothing new


def test_repeated_denials_rule(api, session):
    ids = case_ids(api)
    for _ in range(4):
        api("outsider.officer").get(f"/cases/{ids[0]}")
    assert _scan(_rule("repeated-denials")) == []
    api("outsider.officer").get(f"/cases/{ids[0]}")
    [alert] = _scan(_rule("repeated-denials"))
    assert len(alert.events) == 5 and alert.user_id == _user("outsider.officer").id


def test_search_then_opening_a_case_not_on_rule(api, session):
    ids = case_ids(api)
    api("outsider.officer").get("/cases?q=Example")
    api("outsider.officer").get(f"/cases/{ids[2]}")  # not on the team: refused
    [alert] = _scan(_rule("search-then-open"))
    assert alert.case_id == ids[2] and len(alert.events) == 2


def test_access_after_leaving_the_team_rule(api, session):
    ids = case_ids(api)
    officer = _user("police.officer")
    membership = session.scalar(select(Membership).where(
        Membership.case_id == ids[0], Membership.user_id == officer.id))
    left = membership.removed_at = utcnow()
    session.flush()
    api("police.officer").get(f"/cases/{ids[0]}")
    [alert] = _scan(_rule("after-leaving-team"), since=left)
    assert (alert.case_id, alert.user_id, alert.severity) == (ids[0], officer.id, "high")


def test_many_cases_rule_compares_with_the_users_own_baseline(api, session):
    rule = {"id": "many", "kind": "case_volume", "severity": "medium", "window_hours": 24,
            "baseline_days": 28, "factor": 2, "minimum": 3}
    ids = case_ids(api)
    for case_id in ids[:2]:
        api("advocate").get(f"/cases/{case_id}")
    assert _scan(rule) == []  # below the minimum
    for case_id in ids:
        api("advocate").get(f"/cases/{case_id}")
    [alert] = _scan(rule)
    assert alert.user_id == _user("advocate").id and len(alert.events) == len(ids)


def test_rules_file_is_validated(tmp_path):
    bad = tmp_path / "rules.yaml"
    bad.write_text("rules:\n  - {id: x, kind: telepathy, severity: low}\n")
    with pytest.raises(rules.RuleError, match="kind must be one of"):
        rules.load(bad)
    bad.write_text("rules:\n  - {id: x, kind: denials, severity: extreme}\n")
    with pytest.raises(rules.RuleError, match="severity"):
        rules.load(bad)
    bad.write_text("rules:\n  - {id: x, kind: out_of_hours, severity: low, start: '25:00',"
                   " end: '18:00'}\n")
    with pytest.raises(rules.RuleError, match="start and end"):
        rules.load(bad)
    assert {r["id"] for r in rules.load()} >= {"out-of-hours", "many-cases"}


def test_hub_dpo_scan_command(app, api, session):
    ids = case_ids(api)
    for _ in range(5):
        api("outsider.officer").get(f"/cases/{ids[0]}")
    result = app.test_cli_runner().invoke(args=["dpo", "scan", "--hours", "1"])
    assert result.exit_code == 0, result.output
    assert "repeated-denials" in result.output
    assert session.scalar(select(Alert).where(Alert.rule == "repeated-denials")) is not None
    assert "0 new alerts" in app.test_cli_runner().invoke(args=["dpo", "scan"]).output
    bad = app.test_cli_runner().invoke(args=["dpo", "scan", "--hours", "0"])
    assert bad.exit_code == 2


def test_case_model_unchanged_by_scans(api, session):
    ids = case_ids(api)
    before = session.get(Case, ids[0]).version
    _scan(*rules.load())
    assert session.get(Case, ids[0]).version == before
