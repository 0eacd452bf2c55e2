"""Audit search: every filter's total equals a direct SQL count, pages are stable and
complete, bad input is a 400 naming the field, and only DPOs get in."""

from __future__ import annotations

import csv
import io
import itertools
import threading
import time
from unittest.mock import Mock

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.exc import DBAPIError, IntegrityError

from hub.auditlog import sequencer
from hub.auditlog import writer as audit
from hub.auditlog.models import AuditEvent
from hub.dpo import queries
from hub.dpo.exports import safe_cell
from hub.extensions import db
from hub.timeutil import utcnow
from tests.auditlog.conftest import fresh, record_events, seeded  # noqa: F401 (fixtures)
from tests.dpo.conftest import DPO_API_GETS, NON_DPO, case_ids
from tests.support.apps import BACKENDS
from tests.support.factories import events_since, last_seq, leave_team


def _activity(api):
    """Several users reading, listing, searching, being refused and breaking glass."""
    ids = case_ids(api)
    for username in ("police.officer", "nhs.clinician", "advocate"):
        api(username).get(f"/cases/{ids[0]}")
        api(username).get("/cases?q=Example")
    api("outsider.officer").get(f"/cases/{ids[1]}")  # refused: not on the team
    api("outsider.officer").get(f"/cases/{ids[1]}")
    leave_team("police.supervisor", ids[0])  # off the team: breaks glass, then reads
    supervisor = api("police.supervisor")
    assert supervisor.post(f"/cases/{ids[0]}/break-glass",
                           json={"reason": "Imminent risk reported tonight"}).status_code == 200
    assert supervisor.get(f"/cases/{ids[0]}").status_code == 200
    return ids


def _more_activity(api, ids):
    """Events of several kinds after the last count batch: a read, a list, a refusal."""
    api("police.officer").get(f"/cases/{ids[0]}")
    api("nhs.clinician").get("/cases?q=Example")
    api("outsider.officer").get(f"/cases/{ids[1]}")


def _count_everything_so_far() -> int:
    """Store count batches up to the newest event, as the sequencer's hook would."""
    covered = queries.refresh_counts(min_events=1)
    assert covered > 0 and queries.counted_upto() == last_seq()
    return covered


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
    ("break_glass=true", "purpose = 'break-glass'", {}),  # the grant and the read under it
    ("break_glass=true&action=case:read", "purpose = 'break-glass' AND action = 'case:read'", {}),
    ("agency=police&outcome=allowed&action=case:read",
     "agency = 'police' AND outcome = 'allowed' AND action = 'case:read'", {}),
    ("role=officer&purpose=member", "role = 'officer' AND purpose = 'member'", {}),
    ("", "1 = 1", {}),  # no filter: every event
]


@pytest.mark.parametrize("counted", [False, True], ids=["direct", "stored+tail"])
@pytest.mark.parametrize(("query", "where", "params"), SQL_FILTERS)
def test_totals_after_any_filter_match_sql(api, session, query, where, params, counted):
    """Whether the total is counted directly or comes from stored count batches plus the
    events after the last batch, it equals a direct SQL count."""
    ids = _activity(api)
    if counted:
        _count_everything_so_far()
        _more_activity(api, ids)  # these are after the last batch: counted directly
        assert 0 < queries.counted_upto() < last_seq()
    expected = _sql_count(session, where, **params)
    assert expected > 0
    body = api("dpo").get(f"/audit/events?{query}&per_page=500").json
    assert body["total"] == expected
    assert len(body["items"]) == min(expected, 500)


@pytest.mark.parametrize("counted", [False, True], ids=["direct", "stored+tail"])
def test_case_person_and_date_filters_match_sql(api, session, counted):
    ids = _activity(api)
    if counted:  # these filters are counted directly, whatever is stored
        _count_everything_so_far()
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


@pytest.mark.parametrize("counted", [False, True], ids=["direct", "stored+tail"])
def test_pages_are_stable_and_complete(api, session, counted):
    ids = _activity(api)
    if counted:
        _count_everything_so_far()
        _more_activity(api, ids)
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


# --- stored count batches (hub/dpo/queries.py, migration 0007) -------------------------


def test_stored_counts_equal_sql_counts_of_their_range(api, session, monkeypatch):
    monkeypatch.setattr(queries, "COUNT_CHUNK", 7)  # several batches, several transactions
    _activity(api)
    _count_everything_so_far()
    upto = queries.counted_upto()
    for column in queries.SUMMED_COLUMNS:
        stored = session.execute(text(
            f"SELECT {column}, sum(n) FROM audit_counts GROUP BY {column}"))  # noqa: S608
        direct = session.execute(text(
            f"SELECT {column}, count(*) FROM audit_events WHERE seq <= :u "  # noqa: S608
            f"GROUP BY {column}"), {"u": upto})
        assert {k: int(n) for k, n in stored} == dict(direct.all())
    chain = session.execute(text(
        "SELECT from_seq, upto_seq FROM audit_count_batches ORDER BY from_seq")).all()
    assert len(chain) > 1 and chain[0][0] == 0 and chain[-1][1] == upto
    assert all(prev[1] == nxt[0] for prev, nxt in itertools.pairwise(chain))


def test_counts_wait_for_enough_new_events_and_never_count_twice(api, session):
    ids = _activity(api)
    _count_everything_so_far()
    head = queries.counted_upto()
    assert queries.refresh_counts(min_events=1) == 0  # nothing new
    _more_activity(api, ids)
    assert queries.refresh_counts(min_events=1_000) == 0  # not enough new yet
    assert queries.refresh_counts(min_events=1, upto=head + 1) == 1  # capped: leaves a tail
    assert queries.counted_upto() == head + 1 < last_seq()
    expected = _sql_count(session, "1 = 1")  # before the search records itself
    assert api("dpo").get("/audit/events").json["total"] == expected


def test_two_batches_from_the_same_point_are_refused(api, session):
    """Two processes that read the same head cannot both store a batch from it."""
    _activity(api)
    head, newest = queries.counted_upto(), last_seq()
    row = {"from_seq": head, "upto_seq": newest, "counted_at": utcnow()}
    session.execute(insert(queries.count_batches).values(row))
    with pytest.raises(IntegrityError), session.begin_nested():
        session.execute(insert(queries.count_batches).values({**row, "upto_seq": newest - 1}))


@pytest.mark.parametrize("statement", [
    "UPDATE audit_counts SET n = n + 1", "DELETE FROM audit_counts",
    "UPDATE audit_count_batches SET upto_seq = upto_seq + 1", "DELETE FROM audit_count_batches"])
def test_count_tables_are_append_only(api, session, statement):
    _activity(api)
    _count_everything_so_far()
    # hub_app on PostgreSQL lacks the privilege (deploy/postgres/grants.sql); the trigger
    # refuses everyone else, as on SQLite.
    with pytest.raises(DBAPIError, match=r"append-only|permission denied"), \
            session.begin_nested():
        session.execute(text(statement))


def test_the_sequencer_keeps_the_counts_current(api, session, monkeypatch):
    monkeypatch.setattr(queries, "COUNT_BATCH", 1)
    ids = _activity(api)
    sequencer.run_once()
    assert queries.counted_upto() == last_seq()
    _more_activity(api, ids)
    expected = _sql_count(session, "action = 'case:read'")
    assert api("dpo").get("/audit/events?action=case:read").json["total"] == expected


def test_a_failed_refresh_does_not_fail_the_sequencer(api, session, monkeypatch):
    def broken(**_kwargs):
        db.session.execute(text("SELECT * FROM no_such_table"))

    monkeypatch.setattr(queries, "refresh_counts", broken)
    log = Mock()  # not caplog: Alembic's fileConfig disables loggers made before it ran
    monkeypatch.setattr(queries, "log", log)
    _activity(api)
    assert sequencer.run_once().integrated > 0
    log.exception.assert_called_once_with("audit search counts not refreshed")
    assert last_seq() > 0  # the session is usable afterwards


def _late_insert(app):
    """A slow request on its own connection: its seq is taken, its commit waits."""
    late = db.engine.connect()
    late.execute(insert(AuditEvent).values(at=utcnow(), action="case:read", outcome="allowed",
                                           subject_ids=[], classes=[], details={}))
    return late


def _total_matches_sql() -> bool:
    direct = db.session.scalar(select(func.count()).select_from(AuditEvent))
    return queries.count({}) == direct and queries.count({"action": "case:read"}) == \
        db.session.scalar(select(func.count()).where(AuditEvent.action == "case:read"))


@pytest.mark.skipif("postgres" not in BACKENDS, reason="HUB_TEST_BACKENDS leaves it out")
@pytest.mark.postgres
def test_an_event_committed_late_is_not_sealed_away(fresh):  # noqa: F811 (fixture)
    """seq 10 may commit after seq 11: counting up to 11 before 10 commits would leave 10
    in neither the stored counts nor the tail. The refresh must wait, or give up."""
    app = fresh("postgres")
    with app.app_context():
        late = _late_insert(app)
        record_events(app, 3)  # later seqs, committed first
        assert queries.refresh_counts(min_events=1, wait_seconds=0.2) == 0  # gave up
        late.commit()
        late.close()
        assert queries.refresh_counts(min_events=1) > 0
        assert queries.counted_upto() == db.session.scalar(select(func.max(AuditEvent.seq)))
        assert _total_matches_sql()
        db.session.remove()


@pytest.mark.skipif("postgres" not in BACKENDS, reason="HUB_TEST_BACKENDS leaves it out")
@pytest.mark.postgres
def test_the_refresh_waits_for_an_insert_in_flight(fresh):  # noqa: F811 (fixture)
    app = fresh("postgres")
    with app.app_context():
        late = _late_insert(app)
        record_events(app, 3)
        finished = threading.Event()

        def commit_soon():
            time.sleep(0.3)
            late.commit()
            late.close()
            finished.set()

        threading.Thread(target=commit_soon).start()
        assert queries.refresh_counts(min_events=1, wait_seconds=10) > 0
        assert finished.is_set()  # it did not count before the late insert committed
        record_events(app, 2)  # and a tail after the last batch
        assert queries.counted_upto() < db.session.scalar(select(func.max(AuditEvent.seq)))
        assert _total_matches_sql()
        db.session.remove()


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
    assert [e.outcome for e in events_since(seq)] == ["denied"]


@pytest.mark.parametrize("path", ["/dpo/alerts/1/close", "/people/1/exemptions",
                                  "/people/1/erasure"])
def test_only_dpos_make_dpo_writes(api, session, path):
    for username in ("police.supervisor", "admin"):
        assert api(username).post(path, json={}).status_code == 403


def test_the_search_is_itself_audited(api, session):
    seq = last_seq()
    api("dpo").get("/audit/events?agency=nhs&outcome=denied")
    [event] = events_since(seq)
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
    [event] = events_since(seq)
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
