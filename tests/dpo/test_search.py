"""Audit search: every filter's total equals a direct SQL count, pages are stable and
complete, bad input is a 400 naming the field, and only DPOs get in."""

from __future__ import annotations

import csv
import io

import pytest
from sqlalchemy import text

from hub.auditlog import writer as audit
from hub.dpo.exports import safe_cell
from tests.dpo.conftest import DPO_API_GETS, NON_DPO, case_ids, events_after, last_seq


def _activity(api):
    """Several users reading, listing, searching, being refused and breaking glass."""
    ids = case_ids(api)
    for username in ("police.officer", "nhs.clinician", "advocate"):
        api(username).get(f"/cases/{ids[0]}")
        api(username).get("/cases?q=Example")
    api("outsider.officer").get(f"/cases/{ids[1]}")  # refused: not on the team
    api("outsider.officer").get(f"/cases/{ids[1]}")
    return ids


def _sql_count(session, where: str, **params) -> int:
    return session.execute(text(f"SELECT count(*) FROM audit_events WHERE {where}"),  # noqa: S608
                           params).scalar_one()


SQL_FILTERS = [  # (query string, SQL where clause, params)
    ("username=nhs.clinician", "username = :v", {"v": "nhs.clinician"}),
    ("agency=advocacy", "agency = :v", {"v": "advocacy"}),
    ("role=officer", "role = :v", {"v": "officer"}),
    ("action=case:read", "action = :v", {"v": "case:read"}),
    ("outcome=denied", "outcome = :v", {"v": "denied"}),
    ("purpose=member", "purpose = :v", {"v": "member"}),
    ("break_glass=true", "purpose = 'break-glass'", {}),
    ("agency=police&outcome=allowed&action=case:read",
     "agency = 'police' AND outcome = 'allowed' AND action = 'case:read'", {}),
]


@pytest.mark.parametrize(("query", "where", "params"), SQL_FILTERS)
def test_totals_after_any_filter_match_sql(api, session, query, where, params):
    _activity(api)
    expected = _sql_count(session, where, **params)
    assert expected > 0 or "break_glass" in query
    body = api("dpo").get(f"/audit/events?{query}&per_page=500").json
    assert body["total"] == expected
    assert len(body["items"]) == min(expected, 500)


def test_case_person_and_date_filters_match_sql(api, session):
    ids = _activity(api)
    by_case = _sql_count(session, "case_id = :c", c=ids[0])
    assert api("dpo").get(f"/audit/events?case_id={ids[0]}").json["total"] == by_case > 0
    person = api("police.officer").get(f"/cases/{ids[0]}").json["perpetrator"]["id"]
    by_person = session.execute(text(
        "SELECT count(*) FROM audit_subjects WHERE person_id = :p"), {"p": person}).scalar_one()
    assert api("dpo").get(f"/audit/events?person_id={person}").json["total"] == by_person > 0
    seq = last_seq()
    moment = session.execute(text("SELECT at FROM audit_events WHERE seq = :s"),
                             {"s": seq}).scalar_one()
    since = moment.isoformat() if hasattr(moment, "isoformat") else str(moment)
    body = api("dpo").get("/audit/events", query_string={"since": since}).json
    assert body["total"] >= 1 and body["items"][-1]["seq"] >= seq - body["total"]
    assert api("dpo").get("/audit/events?until=2000-01-01").json["total"] == 0
    everything = _sql_count(session, "1 = 1")
    assert api("dpo").get("/audit/events?since=2000-01-01").json["total"] == everything


def test_pages_are_stable_and_complete(api, session):
    _activity(api)
    where = "agency = 'police'"
    expected = [r[0] for r in session.execute(text(
        f"SELECT seq FROM audit_events WHERE {where} ORDER BY seq DESC"))]  # noqa: S608
    seen, page = [], 1
    while True:
        body = api("dpo").get(f"/audit/events?agency=police&per_page=3&page={page}").json
        assert body["total"] == len(expected)
        if not body["items"]:
            break
        seen += [e["seq"] for e in body["items"]]
        page += 1
    assert seen == expected


def test_date_range_pages_are_stable_and_complete(api, session):
    _activity(api)
    since = session.execute(text("SELECT min(at) FROM audit_events")).scalar_one()
    since = since if isinstance(since, str) else since.isoformat()
    expected = [r[0] for r in session.execute(text(
        "SELECT seq FROM audit_events WHERE agency = 'police' ORDER BY at DESC, seq DESC"))]
    seen = []
    for page in range(1, len(expected) // 4 + 3):
        body = api("dpo").get("/audit/events", query_string={
            "agency": "police", "since": since, "per_page": 4, "page": page}).json
        assert body["total"] == len(expected)
        seen += [e["seq"] for e in body["items"]]
    assert seen == expected


BAD = [("outcome=maybe", "outcome"), ("case_id=abc", "case_id"), ("since=yesterday", "since"),
       ("since=2026-11-02&until=2026-11-01", "until"), ("colour=red", "colour"),
       ("per_page=0", "per_page"), ("per_page=501", "per_page"), ("page=-1", "page"),
       ("until=9999-12-31", "until"), ("username=" + "x" * 65, "username"),
       ("break_glass=perhaps", "break_glass"), ("person_id=0", "person_id")]


@pytest.mark.parametrize(("query", "field"), BAD)
def test_bad_filters_are_a_400_naming_the_field(api, session, query, field):
    response = api("dpo").get(f"/audit/events?{query}")
    assert response.status_code == 400
    assert response.json["error"]["field"] == field
    export = api("dpo").get(f"/audit/events.csv?{query}")
    if field not in ("per_page", "page"):  # the export takes no paging
        assert export.status_code == 400


@pytest.mark.parametrize("username", NON_DPO)
@pytest.mark.parametrize("path", DPO_API_GETS)
def test_only_dpos_reach_dpo_routes(api, session, username, path):
    seq = last_seq()
    response = api(username).get(path)
    assert response.status_code == 403
    assert [e.outcome for e in events_after(seq)] == ["denied"]


@pytest.mark.parametrize("path", ["/dpo/alerts/1/close", "/people/1/exemptions",
                                  "/people/1/erasure"])
def test_only_dpos_make_dpo_writes(api, session, path):
    for username in ("police.supervisor", "admin"):
        assert api(username).post(path, json={}).status_code == 403


def test_the_search_is_itself_audited(api, session):
    seq = last_seq()
    api("dpo").get("/audit/events?agency=nhs&outcome=denied")
    [event] = events_after(seq)
    assert event.action == "audit:search" and event.username == "dpo"
    assert event.details["filters"] == ["agency", "outcome"]


@pytest.mark.parametrize(("value", "cell"), [
    ("=HYPERLINK(\"http://x\")", "'=HYPERLINK(\"http://x\")"), ("+1", "'+1"), ("-1", "'-1"),
    ("@SUM(A1)", "'@SUM(A1)"), ("\tx", "'\tx"), ("\rx", "'\rx"), ("plain", "plain"),
    (None, ""), (["a", "=b"], "a =b"), (7, "7")])
def test_csv_cells_cannot_be_formulas(value, cell):
    assert safe_cell(value) == cell


def test_csv_export_is_safe_and_audited_as_a_disclosure(api, session):
    audit.record_now("=cmd|' /C calc'!A0", "failed", details={})  # a hostile action tag
    _activity(api)
    total = api("dpo").get("/audit/events?per_page=1").json["total"]
    seq = last_seq()
    response = api("dpo").get("/audit/events.csv")
    assert response.status_code == 200 and response.mimetype == "text/csv"
    rows = list(csv.reader(io.StringIO(response.text)))
    assert rows[0][:3] == ["seq", "at", "username"]
    assert len(rows) - 1 == total + 1  # the search above is one more event
    assert not any(c.startswith(("=", "+", "-", "@", "\t", "\r")) for r in rows for c in r)
    assert any(r[5] == "'=cmd|' /C calc'!A0" for r in rows[1:])
    [event] = events_after(seq)
    assert (event.action, event.purpose) == ("audit:export", "dpo-review")
    assert event.details["rows"] == len(rows) - 1


def test_export_too_large_is_refused_with_a_400(api, session, monkeypatch):
    monkeypatch.setattr("hub.dpo.exports.MAX_ROWS", 2)
    _activity(api)
    response = api("dpo").get("/audit/events.csv")
    assert response.status_code == 400 and "narrow the filters" in response.json["error"]["message"]


def test_case_history_answers_who_saw_it_when_why_and_which_classes(api, session):
    ids = _activity(api)
    rows = api("dpo").get(f"/audit/cases/{ids[0]}/history").json["items"]
    by_user = {(r["username"], r["purpose"]): r for r in rows}
    nhs = by_user[("nhs.clinician", "member")]
    assert nhs["count"] == 1 and nhs["agency"] == "nhs"
    assert "victim.location" not in nhs["classes"] and "clinical" in nhs["classes"]
    assert "victim.location" in by_user[("police.officer", "member")]["classes"]
    assert all(r["username"] != "outsider.officer" for r in rows)  # refusals are not "seen"


def test_user_activity_and_person_history(api, session):
    ids = _activity(api)
    rows = api("dpo").get("/audit/users/outsider.officer/history").json["items"]
    assert rows and all(r["classes"] == [] for r in rows)  # signed in, refused: saw nothing
    denied = api("dpo").get("/audit/events?username=outsider.officer&outcome=denied").json
    assert denied["total"] == 2 and {e["case_id"] for e in denied["items"]} == {ids[1]}
    case = api("police.officer").get(f"/cases/{ids[0]}").json
    victim = case["victims"][0]["id"]
    rows = api("dpo").get(f"/audit/people/{victim}/history").json["items"]
    assert {r["agency"] for r in rows} >= {"police", "advocacy"}
    assert all("victim.location" not in r["classes"] for r in rows if r["agency"] == "nhs")
