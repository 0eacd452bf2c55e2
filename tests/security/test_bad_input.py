"""Bad input, everywhere input is taken: each gets a 400 naming the field (never a 500) and
writes nothing."""

from __future__ import annotations

import json

import pytest

from tests.support.matrix import ROW_TABLES, demo_cases, row_counts, sign_in

HUGE = "99999999999999999999"
DEEP = "[" * 10_000 + "]" * 10_000
DEEP_OBJECT = '{"a":' * 10_000 + "1" + "}" * 10_000

VALID = {
    "case": {"perpetrator": {"name": "Test Perp"}, "victims": [{"name": "Test Victim"}]},
    "note": {"body": "A note.", "class": "orders"},
    "member": {"username": "outsider.officer"},
    "break_glass": {"reason": "Imminent risk reported by a neighbour"},
    "token": {"username": "police.officer", "password": "demo-password-2026"},
}

# (label, body) -> the field the error must name (None: the body as a whole).
CASE_BODIES = [
    ("missing perpetrator", {"victims": [{"name": "V"}]}, "perpetrator"),
    ("missing victims", {"perpetrator": {"name": "P"}}, "victims"),
    ("null perpetrator", {"perpetrator": None, "victims": [{"name": "V"}]}, "perpetrator"),
    ("int name", {"perpetrator": {"name": 5}, "victims": [{"name": "V"}]}, "perpetrator.name"),
    ("null victim name", {"perpetrator": {"name": "P"}, "victims": [{"name": None}]},
     "victims.0.name"),
    ("victims not a list", {"perpetrator": {"name": "P"}, "victims": "V"}, "victims"),
    ("empty victims", {"perpetrator": {"name": "P"}, "victims": []}, "victims"),
    ("oversized name", {"perpetrator": {"name": "x" * 10_000}, "victims": [{"name": "V"}]},
     "perpetrator.name"),
    ("oversized address", {**VALID["case"], "victims": [{"name": "V", "address": "x" * 5000}]},
     "victims.0.address"),
    ("bad date", {**VALID["case"], "referred_on": "2026-13-45"}, "referred_on"),
    ("bad status", {**VALID["case"], "status": "deleted"}, "status"),
    ("smuggled id", {**VALID["case"], "id": 1}, "id"),
    ("smuggled agency", {**VALID["case"], "agency": "police"}, "agency"),
    ("smuggled role", {**VALID["case"], "role": "supervisor"}, "role"),
    ("smuggled author", {**VALID["case"], "author": "admin"}, "author"),
    ("smuggled author_id", {**VALID["case"], "author_id": 1}, "author_id"),
    ("smuggled victim field", {**VALID["case"], "victims": [{"name": "V", "id": 3}]},
     "victims.0.id"),
    ("NUL in name", {"perpetrator": {"name": "a\x00b"}, "victims": [{"name": "V"}]},
     "perpetrator.name"),
]
NOTE_BODIES = [
    ("missing body", {"class": "orders"}, "body"),
    ("missing class", {"body": "x"}, "class"),
    ("int body", {"body": 5, "class": "orders"}, "body"),
    ("null body", {"body": None, "class": "orders"}, "body"),
    ("oversized body", {"body": "x" * 20_001, "class": "orders"}, "body"),
    ("unknown class", {"body": "x", "class": "secret"}, "class"),
    ("restricted_to not a list", {**VALID["note"], "restricted_to": "police"}, "restricted_to"),
    ("restricted_to unknown", {**VALID["note"], "restricted_to": ["mi5"]}, "restricted_to"),
    ("string subject", {**VALID["note"], "subject_person_id": "1"}, "subject_person_id"),
    ("smuggled author", {**VALID["note"], "author": "PC Sam Ellery"}, "author"),
    ("smuggled author_id", {**VALID["note"], "author_id": 1}, "author_id"),
    ("smuggled agency", {**VALID["note"], "agency": "cps"}, "agency"),
    ("smuggled role", {**VALID["note"], "role": "supervisor"}, "role"),
    ("smuggled id", {**VALID["note"], "id": 1}, "id"),
    ("NUL in body", {"body": "a\x00", "class": "orders"}, "body"),
]
MEMBER_BODIES = [
    ("empty", {}, "username"),
    ("both", {"username": "outsider.officer", "agency": "police"}, "username"),
    ("int username", {"username": 7}, "username"),
    ("null agency", {"agency": None}, "agency"),
    ("unknown user", {"username": "nobody.here"}, "username"),
    ("hub agency", {"agency": "hub"}, "agency"),
    ("smuggled role", {"username": "outsider.officer", "role": "supervisor"}, "role"),
    ("smuggled id", {"username": "outsider.officer", "id": 1}, "id"),
    ("oversized username", {"username": "x" * 1000}, "username"),
]
UPDATE_BODIES = [
    ("missing version", {"status": "active"}, "version"),
    ("string version", {"version": "1", "status": "active"}, "version"),
    ("null version", {"version": None}, "version"),
    ("bad status", {"version": 1, "status": "gone"}, "status"),
    ("smuggled reference", {"version": 1, "reference": "X"}, "reference"),
    ("smuggled area", {"version": 1, "area_id": 2}, "area_id"),
]
EDIT_BODIES = [
    ("missing version", {"body": "x"}, "version"),
    ("string version", {"body": "x", "version": "1"}, "version"),
    ("null body", {"body": None, "version": 1}, "body"),
    ("smuggled author_id", {"body": "x", "version": 1, "author_id": 3}, "author_id"),
]
BREAK_GLASS_BODIES = [
    ("missing reason", {}, "reason"),
    ("short reason", {"reason": "because"}, "reason"),
    ("blank reason", {"reason": " " * 20}, "reason"),
    ("int reason", {"reason": 12345678901}, "reason"),
    ("smuggled expires", {**VALID["break_glass"], "expires_at": "2099-01-01"}, "expires_at"),
]
TOKEN_BODIES = [
    ("missing password", {"username": "police.officer"}, "password"),
    ("int password", {"username": "police.officer", "password": 1}, "password"),
    ("smuggled role", {**VALID["token"], "role": "dpo"}, "role"),
    ("oversized username", {"username": "x" * 100, "password": "x"}, "username"),
    ("NUL username", {"username": "police\x00officer", "password": "x"}, "username"),
]

# Raw bodies that are not a JSON object, sent to every write endpoint.
RAW_BODIES = [
    ("malformed", "{\"perpetrator\": "),
    ("array", "[1, 2]"),
    ("string", "\"hello\""),
    ("number", "42"),
    ("null", "null"),
    ("deep array", DEEP),
    ("deep object", DEEP_OBJECT),
    ("invalid utf-8", b"\xff\xfe{}"),
]


@pytest.fixture
def ids(session):
    case = demo_cases(session)[0]
    orders = next(i for i, (cls, kind, _r, _b) in case.entries.items()
                  if cls == "orders" and kind == "order")
    return {"case": case.id, "entry": orders, "victim": case.victims[0][0]}


def _writes(ids) -> dict[str, tuple[str, str, str]]:
    """Every write endpoint of the API: label -> (user, method, path)."""
    c = ids["case"]
    return {
        "case": ("police.officer", "post", "/cases"),
        "update": ("police.officer", "patch", f"/cases/{c}"),
        "member": ("police.officer", "post", f"/cases/{c}/members"),
        "note": ("police.officer", "post", f"/cases/{c}/notes"),
        "edit": ("police.officer", "put", f"/cases/{c}/notes/{ids['entry']}"),
        "break_glass": ("police.supervisor", "post", f"/cases/{c}/break-glass"),
        "token": (None, "post", "/auth/token"),
    }


def assert_400(response, field: str | None = None) -> None:
    assert response.status_code == 400, (response.status_code, response.data[:300])
    error = response.get_json()["error"]
    assert set(error) <= {"code", "message", "field"}
    assert error["code"] and error["message"]
    if field is not None:
        assert error.get("field") == field, error


@pytest.fixture
def unchanged(session):
    """Asserts after the test that no case data was written."""
    before = row_counts(session)
    yield
    assert row_counts(session) == before


def _send(api, ids, label, body, **kwargs):
    user, method, path = _writes(ids)[label]
    return getattr(api(user), method)(path, **({"json": body} if body is not None else {}),
                                      **kwargs)


BODY_CASES = [("case", *c) for c in CASE_BODIES] + [("note", *c) for c in NOTE_BODIES] + \
    [("member", *c) for c in MEMBER_BODIES] + [("update", *c) for c in UPDATE_BODIES] + \
    [("edit", *c) for c in EDIT_BODIES] + [("break_glass", *c) for c in BREAK_GLASS_BODIES] + \
    [("token", *c) for c in TOKEN_BODIES]


@pytest.mark.parametrize(("endpoint", "label", "body", "field"), BODY_CASES,
                         ids=[f"{c[0]}-{c[1]}" for c in BODY_CASES])
def test_invalid_body_is_400_naming_the_field(api, ids, unchanged, endpoint, label, body,
                                              field):
    assert_400(_send(api, ids, endpoint, body), field)


@pytest.mark.parametrize("endpoint", ["case", "update", "member", "note", "edit",
                                      "break_glass", "token"])
def test_bodies_that_are_not_json_objects_are_400(api, ids, unchanged, endpoint):
    for label, raw in RAW_BODIES:
        r = _send(api, ids, endpoint, None, data=raw, content_type="application/json")
        assert r.status_code == 400, (label, r.status_code, r.data[:200])
        assert_400(r)
    r = _send(api, ids, endpoint, None, data=json.dumps(VALID.get(endpoint, {})),
              content_type="text/plain")
    assert_400(r)


@pytest.mark.parametrize("endpoint", ["case", "note", "member", "break_glass", "token"])
def test_body_larger_than_the_limit_is_413(app, api, ids, unchanged, endpoint):
    limit = app.config["MAX_CONTENT_LENGTH"]
    big = {**VALID.get(endpoint, {}), "padding": "x" * (limit + 1)}
    r = _send(api, ids, endpoint, big)
    assert r.status_code == 413, (r.status_code, r.data[:200])
    assert r.get_json()["error"]["code"] == "too_large"


@pytest.mark.parametrize(("method", "path"), [
    ("get", "/cases/{huge}"), ("patch", "/cases/{huge}"), ("get", "/cases/{huge}/notes"),
    ("post", "/cases/{huge}/notes"), ("post", "/cases/{huge}/members"),
    ("put", "/cases/{case}/notes/{huge}"), ("put", "/cases/{huge}/notes/{huge}"),
    ("post", "/cases/{huge}/break-glass"), ("get", "/cases/abc"), ("get", "/cases/-1"),
    ("get", "/cases/1.5"), ("get", "/cases/{big64}"),
])
def test_non_numeric_and_huge_ids_are_404_never_500(api, ids, unchanged, method, path):
    user = "police.supervisor"
    url = path.format(huge=HUGE, case=ids["case"], big64=2**63)
    body = {"post": {"reason": "Imminent risk reported by a neighbour", "body": "x",
                     "class": "orders"}, "put": {"body": "x", "version": 1},
            "patch": {"version": 1}}.get(method)
    if url.endswith("/members"):
        body = VALID["member"]
    r = getattr(api(user), method)(url, **({"json": body} if body else {}))
    # 405: an id the int converter refuses matches no route for that method; never 500
    assert r.status_code in (400, 404, 405), (url, r.status_code, r.data[:200])
    assert "error" in r.get_json()


def test_huge_person_id_is_404_for_the_dpo(api, unchanged):
    r = api("dpo").get(f"/people/{HUGE}/subject-access")
    assert r.status_code in (400, 404), r.data[:200]


QUERY_CASES = [
    ("/cases", "police.officer", "page=abc", "page"),
    ("/cases", "police.officer", "page=0", "page"),
    ("/cases", "police.officer", f"page={HUGE}", "page"),
    ("/cases", "police.officer", "per_page=1000", "per_page"),
    ("/cases", "police.officer", "per_page=1.5", "per_page"),
    ("/cases", "police.officer", "q=" + "x" * 101, "q"),
    ("/cases", "police.officer", "q=a%00b", "q"),
    ("/cases", "police.officer", "agency=police", "agency"),
    ("/cases", "police.officer", "role=supervisor", "role"),
    ("/audit/events", "dpo", "case_id=abc", "case_id"),
    ("/audit/events", "dpo", f"case_id={HUGE}", "case_id"),
    ("/audit/events", "dpo", "since=yesterday", "since"),
    ("/audit/events", "dpo", "until=2026-99-99", "until"),
    ("/audit/events", "dpo", "outcome=maybe", "outcome"),
    ("/audit/events", "dpo", f"page={HUGE}", "page"),
    ("/audit/events", "dpo", "per_page=-1", "per_page"),
    ("/audit/events", "dpo", "username=" + "x" * 200, "username"),
    ("/audit/events", "dpo", "username=a%00b", "username"),
    ("/audit/events", "dpo", "sql=1", "sql"),
]


@pytest.mark.parametrize(("path", "user", "query", "field"), QUERY_CASES,
                         ids=[f"{c[0]}?{c[2][:20]}" for c in QUERY_CASES])
def test_invalid_query_string_is_400_naming_the_field(api, unchanged, path, user, query,
                                                      field):
    assert_400(api(user).get(f"{path}?{query}"), field)


@pytest.mark.parametrize(("path", "query"), [
    ("/cases/", "page=abc"), ("/cases/", "q=" + "x" * 101), ("/cases/", "q=a%00b"),
    ("/cases/", f"page={HUGE}"), ("/audit/", "since=yesterday"), ("/audit/", "case_id=abc"),
    ("/audit/", "username=a%00b"),
])
def test_invalid_query_string_on_pages_is_400(client, unchanged, path, query):
    sign_in(client, "dpo" if path.startswith("/audit") else "police.officer")
    r = client.get(f"{path}?{query}")
    assert r.status_code == 400, (r.status_code, r.data[:200])


@pytest.mark.parametrize(("form", "field_text"), [
    ({"perpetrator_name": "", "victim_name": "V"}, "perpetrator"),
    ({"perpetrator_name": "P" * 500, "victim_name": "V"}, "perpetrator"),
    ({"perpetrator_name": "P", "victim_name": "V", "victim_email": "not-an-email"}, "email"),
    ({"perpetrator_name": "P\x00", "victim_name": "V"}, "bad request"),
    ({"perpetrator_name": "P", "victim_name": "V", "risk_level": "extreme"}, "risk"),
])
def test_invalid_case_form_is_400_and_writes_nothing(client, unchanged, form, field_text):
    sign_in(client, "police.officer")
    r = client.post("/cases/new", data=form)
    assert r.status_code == 400, (r.status_code, r.data[:200])
    assert field_text in r.get_data(as_text=True).lower()


def test_oversized_form_is_413_and_writes_nothing(app, client, ids, unchanged):
    sign_in(client, "police.officer")
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    for path in ("/cases/new", f"/cases/{ids['case']}/notes/new",
                 f"/cases/{ids['case']}/members"):
        r = client.post(path, data={"body": big, "perpetrator_name": big})
        assert r.status_code == 413, (path, r.status_code)


def test_invalid_note_form_is_400_and_writes_nothing(client, ids, unchanged):
    sign_in(client, "police.officer")
    path = f"/cases/{ids['case']}/notes/new"
    for form in ({"body": "", "class": "orders"}, {"body": "x", "class": "secret"},
                 {"body": "x" * 20_001, "class": "orders"},
                 {"body": "x", "class": "orders", "restricted_to": "mi5"},
                 {"body": "x\x00", "class": "orders"}):
        r = client.post(path, data=form)
        assert r.status_code == 400, (form, r.status_code)


def test_tables_counted_are_the_case_tables(session):
    """The row counts above would be meaningless if a table were missing or empty."""
    counts = row_counts(session)
    assert set(counts) == set(ROW_TABLES)
    assert counts["cases"] >= 5 and counts["entries"] >= 5 and counts["case_members"] >= 5


@pytest.mark.parametrize("form", [
    {"username": "police\x00officer", "password": "x"},
    {"username": "police.officer", "password": "x\x00"},
    {"username": "x" * 10_000, "password": "y" * 100_000},
])
def test_bad_sign_in_form_is_refused_never_500(client, unchanged, form):
    r = client.post("/sign-in", data=form)
    assert r.status_code == 400, (r.status_code, r.data[:200])


@pytest.mark.parametrize("path", ["/audit/users/a%00b/history", "/audit/users/" + "x" * 500
                                  + "/history"])
def test_bad_username_in_a_url_is_never_500(api, unchanged, path):
    r = api("dpo").get(path)
    assert r.status_code in (400, 404), (r.status_code, r.data[:200])


def test_bad_username_in_a_page_url_is_never_500(client, unchanged):
    sign_in(client, "dpo")
    assert client.get("/audit/users/a%00b").status_code == 400


@pytest.mark.parametrize(("user", "path"), [
    ("admin", "/api/v1/admin/users?q=a%00b"), ("admin", "/admin/users?q=a%00b"),
    ("dpo", "/api/v1/audit/events.csv?username=a%00b"), ("dpo", "/audit/export.csv?role=%00"),
    ("dpo", "/dpo/alerts?status=a%00b"), ("dpo", "/api/v1/dpo/alerts?status=a%00b"),
    ("police.officer", "/cases/?q%00=1"),
])
def test_nul_anywhere_in_a_query_is_400(api, client, unchanged, user, path):
    """PostgreSQL cannot compare text holding NUL: it must be refused before any query."""
    if path.startswith("/api/v1"):
        r = api(user).get(path.removeprefix("/api/v1"))
        assert_400(r)
    else:
        sign_in(client, user)
        assert client.get(path).status_code == 400
