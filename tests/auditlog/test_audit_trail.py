"""The audit trail: one event per access, naming what was disclosed; denials recorded; writes
recorded in the same transaction; and no data at all when the log cannot be written."""

from __future__ import annotations

import pytest
from sqlalchemy import event, make_url, select

from hub.accounts.models import Area
from hub.cases.models import Case
from tests.support.factories import DEMO_PASSWORD, events_since, last_seq, leave_team
from tests.support.matrix import (
    ROW_TABLES,
    case_data_strings,
    demo_cases,
    found,
    readable,
    row_counts,
    sign_in,
)

REASON = "Imminent risk reported by a neighbour tonight"
PG_SWITCH = "stac_test.audit_outage"


@pytest.fixture(scope="module")
def outage_trigger(app, tokens, request):
    """On PostgreSQL, a BEFORE INSERT trigger on audit_events that raises while the test's
    own connection has turned the switch on. hub_app may not create triggers, so the
    superuser creates it (committed) before any test transaction holds a lock on the table,
    and drops it afterwards. On SQLite ``AuditOutage`` creates the trigger itself."""
    if app.config["BACKEND"] != "postgres":
        yield
        return
    pg = request.getfixturevalue("pg_server")
    dbname = make_url(app.config["SQLALCHEMY_DATABASE_URI"]).database
    pg.execute(f"""
        CREATE FUNCTION test_audit_outage() RETURNS trigger LANGUAGE plpgsql AS $$
        BEGIN
            IF current_setting('{PG_SWITCH}', true) = 'on' THEN
                RAISE EXCEPTION 'audit log unavailable (test)';
            END IF;
            RETURN NEW;
        END $$""", dbname=dbname)
    pg.execute("CREATE TRIGGER test_audit_outage BEFORE INSERT ON audit_events FOR EACH ROW "
               "EXECUTE FUNCTION test_audit_outage()", dbname=dbname)
    yield
    pg.execute("DROP TRIGGER test_audit_outage ON audit_events", dbname=dbname)
    pg.execute("DROP FUNCTION test_audit_outage()", dbname=dbname)


class AuditOutage:
    """Every insert into audit_events fails for real until the test's transaction ends."""

    def __init__(self, app, session):
        self.backend, self.session = app.config["BACKEND"], session

    def start(self) -> None:
        self.session.commit()  # no savepoint open: the hub's rollbacks must not undo this
        connection = self.session.get_bind()
        if self.backend == "sqlite":
            connection.exec_driver_sql(
                "CREATE TRIGGER test_audit_outage BEFORE INSERT ON audit_events "
                "BEGIN SELECT RAISE(ABORT, 'audit log unavailable (test)'); END")
        else:
            connection.exec_driver_sql(f"SELECT set_config('{PG_SWITCH}', 'on', false)")


@pytest.fixture
def outage(outage_trigger, app, session):
    return AuditOutage(app, session)


@pytest.fixture
def cases(session):
    return demo_cases(session)


def expected_classes(username: str, case) -> set[str]:
    """What a case view discloses: its core, the people and each visible entry's class."""
    from tests.support.matrix import entry_visible

    seen = {c for c, k, r, _b in case.entries.values()
            if entry_visible(username, case.area, c, k, r)}
    people = {"case.core", "perpetrator.identity", "victim.identity", "victim.location"}
    return seen | (people & readable(username, case.area))


# -- reads -------------------------------------------------------------------------------------
@pytest.mark.parametrize("username", ["police.officer", "nhs.clinician", "probation.officer",
                                      "cps.prosecutor", "advocate"])
def test_each_case_view_records_one_event_naming_classes_and_victims(
        api, client, session, cases, username):
    sign_in(client, username)
    for case in cases:
        for fetch in (lambda c=case: api(username).get(f"/cases/{c.id}"),
                      lambda c=case: client.get(f"/cases/{c.id}")):
            before = last_seq()
            assert fetch().status_code == 200
            (event,) = events_since(before)
            assert (event.action, event.outcome, event.case_id) == ("case:read", "allowed",
                                                                    case.id)
            assert event.username == username and event.purpose == "member"
            assert set(event.classes) == expected_classes(username, case)
            victims = {i for i, _n in case.victims}
            assert set(event.subject_ids) == victims | {case.perpetrator[0]}


def test_a_read_of_a_case_with_no_entries_names_its_people_from_the_record(api, session):
    """The people and their classes come from the case record itself, not only from
    entries about them; a correction shown in the history is a read of its class too."""
    created = api("police.officer").post("/cases", json={
        "perpetrator": {"name": "Perry Trailtest"},
        "victims": [{"name": "Vera Trailtest", "address": "4 Quiet Row, London E1 0ZZ"}]})
    assert created.status_code == 201, created.get_json()
    case = created.json
    victim, perpetrator = case["victims"][0]["id"], case["perpetrator"]["id"]
    corrected = api("police.officer").patch(f"/cases/{case['id']}/people/{victim}",
                                            json={"address": "5 Quiet Row, London E1 0ZZ"})
    assert corrected.status_code == 200, corrected.get_json()
    assert api("police.officer").post(f"/cases/{case['id']}/members",
                                      json={"username": "nhs.clinician"}).status_code == 201
    for username, location in (("police.officer", ["victim.location"]),
                               ("nhs.clinician", [])):
        before = last_seq()
        assert api(username).get(f"/cases/{case['id']}").status_code == 200
        (event,) = events_since(before)
        assert sorted(event.subject_ids) == sorted([victim, perpetrator]), username
        assert event.classes == ["case.core", "perpetrator.identity", "victim.identity",
                                 *location]


def test_team_page_and_correction_form_reads_say_what_they_showed(client, session, cases):
    """A DPO can tell a look at the team, or at one person's details to correct them, from
    a look at the whole case."""
    case = cases[0]
    victim_id = case.victims[0][0]
    sign_in(client, "police.officer")
    for path, action, details in (
            (f"/cases/{case.id}/team", "case:read", {"page": "team"}),
            (f"/cases/{case.id}/people/{victim_id}", "person:read",
             {"person_id": victim_id, "form": "correct"})):
        before = last_seq()
        assert client.get(path).status_code == 200
        (event,) = events_since(before)
        assert (event.action, event.outcome, event.case_id) == (action, "allowed", case.id)
        assert event.details == details


def test_reads_name_their_rule_and_under_break_glass_their_grant(api, session):
    """Every read says which rule let it happen; a read under break-glass also names its
    grant, so that the grant's review lists what was read under it."""
    created = api("police.officer").post("/cases", json={
        "perpetrator": {"name": "Perry Glasstest"}, "victims": [{"name": "Vera Glasstest"}]})
    case_id = created.get_json()["id"]  # the officer's team; the supervisor is not on it
    before = last_seq()
    assert api("police.officer").get(f"/cases/{case_id}").status_code == 200
    (read,) = events_since(before)
    assert read.rule.startswith("member; allowed by ") and read.grant_id is None
    before = last_seq()
    assert api("police.supervisor").post(f"/cases/{case_id}/break-glass",
                                         json={"reason": REASON}).status_code == 200
    (glass,) = events_since(before)
    before = last_seq()
    assert api("police.supervisor").get(f"/cases/{case_id}").status_code == 200
    (read,) = events_since(before)
    assert read.purpose == "break-glass" and read.rule.startswith("break_glass; allowed by ")
    assert read.grant_id == glass.grant_id is not None


def test_notes_list_records_one_event(api, session, cases):
    case = cases[0]
    before = last_seq()
    r = api("cps.prosecutor").get(f"/cases/{case.id}/notes")
    assert r.status_code == 200
    (event,) = events_since(before)
    assert event.action == "entry:list" and event.case_id == case.id
    assert set(event.classes) == {e["class"] for e in r.json["items"]}


@pytest.mark.parametrize("query", ["", "?q=Fictitious", "?q=STAC"])
def test_list_and_search_events_name_the_case_ids(api, client, session, query):
    sign_in(client, "advocate")
    for fetch in (lambda: api("advocate").get(f"/cases{query}"),
                  lambda: client.get(f"/cases/{query}")):
        before = last_seq()
        r = fetch()
        assert r.status_code == 200
        (event,) = events_since(before)
        assert event.action == ("case:search" if query else "case:list")
        assert event.details["case_ids"]
    returned = [item["id"] for item in api("advocate").get(f"/cases{query}").json["items"]]
    assert event.details["case_ids"] == returned


def test_a_list_event_records_the_page_asked_for_and_the_total(api, session):
    """The DPO can tell a search from a listing and which page of how many was shown."""
    everything = api("advocate").get("/cases?per_page=100").json
    assert everything["total"] >= 3
    for query, action in (("", "case:list"), ("&q=STAC", "case:search")):
        before = last_seq()
        r = api("advocate").get(f"/cases?per_page=2&page=2{query}")
        assert r.status_code == 200 and len(r.json["items"]) == min(2, r.json["total"] - 2)
        (event,) = events_since(before)
        assert event.action == action
        assert (event.details["total"], event.details["page"], event.details["query"]) == (
            r.json["total"], 2, bool(query))
        assert event.details["case_ids"] == [item["id"] for item in r.json["items"]]
        assert event.classes == ["case.core", "perpetrator.identity"]
        assert sorted(event.subject_ids) == sorted(item["perpetrator"]["id"]
                                                   for item in r.json["items"])


def test_denials_are_recorded(api, session, cases):
    case = cases[0]
    checks = [("outsider.officer", "get", f"/cases/{case.id}", 404, "case:read"),
              ("dpo", "get", f"/cases/{case.id}/notes", 404, "entry:list"),
              ("admin", "get", "/cases", 403, "case:list"),
              ("nhs.clinician", "post", "/cases", 403, "case:create"),
              ("cps.prosecutor", "post", f"/cases/{case.id}/break-glass", 403,
               "case:break-glass")]
    for username, method, path, status, action in checks:
        before = last_seq()
        assert getattr(api(username), method)(path, json={}).status_code == status
        (event,) = events_since(before)
        assert (event.action, event.outcome, event.username) == (action, "denied", username)


def _refusal(before: int) -> tuple:
    (event,) = events_since(before)
    return event.action, event.outcome, event.case_id, event.rule, event.details


def test_each_refusal_records_what_was_asked_for_and_why(api, client, session, cases):
    """A DPO must be able to account for every refused request: which record was asked
    for, on which case, and the reason the hub gave."""
    case = cases[0]
    refusals = []
    before = last_seq()  # a case id nobody has
    assert api("police.officer").get("/cases/999999").status_code == 404
    refusals.append((_refusal(before), ("case:read", "denied", None,
                                        "deny by default: no relationship with the case",
                                        {"requested_id": 999999})))
    sign_in(client, "outsider.officer")
    before = last_seq()  # a real case, for someone not on it (the page's read, by default)
    assert client.get(f"/cases/{case.id}").status_code == 404
    refusals.append((_refusal(before), ("case:read", "denied", case.id,
                                        "deny by default: no relationship with the case", {})))
    before = last_seq()  # a place on the team that is not there
    assert api("police.officer").delete(f"/cases/{case.id}/members/999999").status_code == 404
    refusals.append((_refusal(before), ("case:member:remove", "denied", case.id,
                                        "no such team member", {"membership_id": 999999})))
    before = last_seq()  # a user id that is nobody's
    assert api("admin").get("/admin/users/999999").status_code == 404
    refusals.append((_refusal(before), ("admin:user:read", "denied", None, "no such record",
                                        {"requested_id": 999999})))
    before = last_seq()  # break-glass on a case that does not exist
    assert api("police.supervisor").post("/cases/999999/break-glass",
                                         json={"reason": REASON}).status_code == 404
    refusals.append((_refusal(before), ("case:break-glass", "denied", None, "no such case",
                                        {"requested_id": 999999})))
    before = last_seq()  # a role without the permission, on a case it can see
    assert api("cps.prosecutor").post(f"/cases/{case.id}/break-glass",
                                      json={"reason": REASON}).status_code == 403
    refusals.append((_refusal(before), ("case:break-glass", "denied", case.id,
                                        "role cps/prosecutor lacks case:break-glass", {})))
    for got, want in refusals:
        assert got == want


def test_break_glass_cannot_change_the_team_and_says_so(api, session, cases):
    case = cases[0]
    leave_team("police.supervisor", case.id)
    assert api("police.supervisor").post(f"/cases/{case.id}/break-glass",
                                         json={"reason": REASON}).status_code == 200
    before = last_seq()
    added = api("police.supervisor").post(f"/cases/{case.id}/members",
                                          json={"agency": "police"})
    assert added.status_code == 403
    action, outcome, case_id, rule, _details = _refusal(before)
    assert (action, outcome, case_id) == ("case:member:add", "denied", case.id)
    assert rule.startswith("only team members change the team, not") and "break" in rule


def test_break_glass_beyond_ones_area_records_the_case(api, session):
    hampshire = session.scalar(select(Case).join(Case.area).where(Area.code == "hampshire"))
    before = last_seq()
    assert api("police.supervisor").post(f"/cases/{hampshire.id}/break-glass",
                                         json={"reason": REASON}).status_code == 404
    assert _refusal(before) == ("case:break-glass", "denied", hampshire.id,
                                "case in another area", {"requested_id": hampshire.id})


# -- writes ------------------------------------------------------------------------------------
def _write_checks(cases):
    case = cases[0]
    return [
        ("police.officer", "post", "/cases", {"perpetrator": {"name": "New Perp"},
                                               "victims": [{"name": "New Victim",
                                                            "address": "1 New Road"}]},
         "case:create", "cases"),
        ("nhs.clinician", "post", f"/cases/{case.id}/notes",
         {"body": "Session 4 notes.", "class": "clinical"}, "entry:create", "entries"),
        ("advocate", "post", f"/cases/{case.id}/members", {"username": "outsider.officer"},
         "case:member:add", "case_members"),
        ("police.supervisor", "post", f"/cases/{case.id}/break-glass", {"reason": REASON},
         "case:break-glass", "break_glass_grants"),
    ]


def test_each_write_records_exactly_one_event_with_its_data(api, session, cases):
    for username, method, path, body, action, table in _write_checks(cases):
        before, rows = last_seq(), row_counts(session)
        r = getattr(api(username), method)(path, json=body)
        assert r.status_code in (200, 201), (path, r.json)
        (event,) = events_since(before)
        assert (event.action, event.outcome, event.username) == (action, "allowed", username)
        assert row_counts(session)[table] == rows[table] + 1
        if action == "case:create":
            assert event.case_id == r.json["id"]
            assert {"case.core", "victim.location"} <= set(event.classes)
        if action == "case:break-glass":
            assert event.purpose == "break-glass" and event.grant_id is not None


# -- fail closed -------------------------------------------------------------------------------
def _assert_nothing_disclosed(response, strings, what) -> None:
    assert response.status_code == 503, (what, response.status_code)
    assert not found(response.get_data(as_text=True), strings), what


def test_reads_fail_closed_when_the_audit_log_cannot_be_written(
        outage, api, client, session, cases):
    sign_in(client, "police.officer")
    strings = case_data_strings(cases)
    outage.start()
    before = row_counts(session, ("audit_events",))
    case = cases[0]
    name = case.victims[0][1]
    for path in (f"/cases/{case.id}", f"/cases/{case.id}/notes", "/cases",
                 f"/cases?q={name}", f"/cases?q={case.reference}", "/cases?q=Nobody+At+All"):
        _assert_nothing_disclosed(api("police.officer").get(path), strings, path)
        assert api("police.officer").get(path).get_json()["error"]["code"]
    for path in (f"/cases/{case.id}", "/cases/", f"/cases/?q={name}", "/cases/?q=Nobody"):
        _assert_nothing_disclosed(client.get(path), strings, path)
    # a denial cannot be recorded either, so it is not answered
    assert api("outsider.officer").get(f"/cases/{case.id}").status_code == 503
    assert row_counts(session, ("audit_events",)) == before


def test_the_503_page_asks_the_database_nothing_more(outage, client, session, cases):
    """Once the log refused a read, the page that says so is rendered from memory: a
    statement after the failure could wait for a lock the failure left busy, and turn the
    503 into a 500 (seen under load on SQLite)."""
    sign_in(client, "police.officer")
    outage.start()
    after_failure: list[str] = []

    def watch(_conn, _cursor, statement, *_args):
        if after_failure or statement.lstrip().upper().startswith("INSERT INTO AUDIT_EVENTS"):
            after_failure.append(" ".join(statement.split())[:80])

    engine = session.get_bind().engine
    event.listen(engine, "before_cursor_execute", watch)
    try:
        r = client.get(f"/cases/{cases[0].id}")
    finally:
        event.remove(engine, "before_cursor_execute", watch)
    assert r.status_code == 503 and "audit log cannot be written" in r.text
    statements = [s for s in after_failure[1:]
                  if not s.upper().startswith(("ROLLBACK", "RELEASE", "SAVEPOINT"))]
    assert after_failure and statements == [], statements


def test_writes_fail_closed_and_write_nothing(outage, api, client, session, cases):
    sign_in(client, "police.officer")
    strings = [*case_data_strings(cases), "New Perp", "New Victim", "Session 4 notes."]
    outage.start()
    before = row_counts(session, (*ROW_TABLES, "audit_events"))
    for username, method, path, body, _action, _table in _write_checks(cases):
        r = getattr(api(username), method)(path, json=body)
        _assert_nothing_disclosed(r, strings, path)
    case = cases[0]
    pages = [("/cases/new", {"perpetrator_name": "New Perp", "victim_name": "New Victim"}),
             (f"/cases/{case.id}/notes/new", {"body": "Session 4 notes.", "class": "orders"}),
             (f"/cases/{case.id}/members", {"username": "outsider.officer"})]
    for path, form in pages:
        _assert_nothing_disclosed(client.post(path, data=form), strings, path)
    assert row_counts(session, (*ROW_TABLES, "audit_events")) == before


def test_sign_in_fails_closed(outage, client, session):
    outage.start()
    r = client.post("/sign-in", data={"username": "advocate", "password": DEMO_PASSWORD})
    assert r.status_code == 503
    assert client.get("/cases/").status_code in (302, 401)


def test_outage_is_over_after_the_test(api, cases):
    """The switch is scoped to a test: the next test reads normally (guards the fixture)."""
    assert api("police.officer").get(f"/cases/{cases[0].id}").status_code == 200
