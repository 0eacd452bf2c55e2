"""Inputs found from outside that still broke the hub: unpaired surrogates, duplicate JSON
keys, NUL on an unknown API path, redirects that echo the Host header, ids written in
other digits or with leading zeros, and error answers missing the headers HTTP asks for.

Each is refused at the boundary with a 400 naming the field (or the right status), never
a 500, and writes nothing."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.extensions import db, limiter
from tests.support.apps import BACKENDS, build_app
from tests.support.matrix import demo_cases, row_counts, sign_in


@pytest.fixture
def unchanged(session):
    before = row_counts(session)
    yield
    assert row_counts(session) == before


@pytest.fixture
def case_id(session) -> int:
    return demo_cases(session)[0].id


def assert_400(response, field: str) -> None:
    assert response.status_code == 400, (response.status_code, response.data[:300])
    error = response.get_json()["error"]
    assert error.get("field") == field, error


def _raw(api, user, method, path, text):
    return getattr(api(user), method)(path, data=text, content_type="application/json")


# -- unpaired surrogates ------------------------------------------------------------------
SURROGATE_BODIES = [
    ("note body", "police.officer", "post", "/cases/{case}/notes",
     r'{"body": "\ud800x", "class": "orders"}', "body"),
    ("token username", None, "post", "/auth/token",
     r'{"username": "\ud800x", "password": "x"}', "username"),
    ("perpetrator name", "police.officer", "post", "/cases",
     r'{"perpetrator": {"name": "\ud800x"}, "victims": [{"name": "V"}]}',
     "perpetrator.name"),
    ("victim name in a list", "police.officer", "post", "/cases",
     r'{"perpetrator": {"name": "P"}, "victims": [{"name": "V"}, {"name": "\ud800x"}]}',
     "victims.1.name"),
    ("case summary", "police.officer", "post", "/cases",
     r'{"perpetrator": {"name": "P"}, "victims": [{"name": "V"}], "summary": "\ud800x"}',
     "summary"),
    ("in a key", "police.officer", "post", "/cases/{case}/notes",
     r'{"body": "x", "class": "orders", "a\ud800x": 1}', "ax"),
    ("low half alone", "police.officer", "post", "/cases/{case}/notes",
     r'{"body": "\udc00", "class": "orders"}', "body"),
]


@pytest.mark.parametrize(("label", "user", "method", "path", "text", "field"), SURROGATE_BODIES,
                         ids=[b[0] for b in SURROGATE_BODIES])
def test_unpaired_surrogate_in_json_is_400_naming_the_field(api, case_id, unchanged, label,
                                                            user, method, path, text, field):
    r = _raw(api, user, method, path.format(case=case_id), text)
    assert_400(r, field)
    assert "surrogate" in r.get_json()["error"]["message"]


def test_a_paired_surrogate_is_an_ordinary_character(api, case_id, session):
    """JSON writes characters outside the BMP as a surrogate pair: that is fine."""
    r = _raw(api, "police.officer", "post", f"/cases/{case_id}/notes",
             '{"body": "emoji \\ud83d\\ude00", "class": "orders"}')
    assert r.status_code == 201, r.data[:300]
    assert r.get_json()["body"] == "emoji \U0001f600"


def test_unpaired_surrogates_in_query_and_form_text_are_refused_at_the_boundary():
    """werkzeug 3 leaves bytes that are not UTF-8 percent-encoded in queries and forms, so
    no request from outside carries a surrogate there today; the boundary that refuses NUL
    in them refuses surrogates too, should a server or a later werkzeug decode otherwise."""
    from hub.boundary import first_bad

    assert first_bad([("path", "/cases/"), ("q", "a\ud800")])[0] == "q"
    assert first_bad([("q\udc80", "x")])[0] == "q"
    assert "surrogate" in first_bad([("body", "\udfff")])[1]
    assert first_bad([("q", "emoji \U0001f600"), ("page", "2")]) is None


def test_bytes_that_are_not_utf8_in_a_query_never_reach_a_handler_as_surrogates(api):
    """werkzeug keeps them percent-encoded: an ordinary search that finds nothing."""
    r = api("police.officer").get("/cases?q=%ED%A0%80")
    assert r.status_code == 200, r.data[:300]


@pytest.fixture
def stored_surrogate(session, case_id):
    """A note whose stored text holds an unpaired surrogate, as the hub once accepted."""
    from hub.accounts.models import User
    from hub.cases.models import Case, Entry
    from hub.cases.operations import write_version

    case = session.get(Case, case_id)
    entry = session.scalars(select(Entry).where(Entry.case_id == case_id,
                                                Entry.info_class == "orders")).first()
    author = session.scalar(select(User).where(User.username == "police.officer"))
    entry.version += 1
    write_version(case, entry, author, "stored \ud800 surrogate")
    session.commit()
    return entry


def test_a_stored_surrogate_still_renders_the_case_page(client, case_id, stored_surrogate):
    sign_in(client, "police.officer")
    r = client.get(f"/cases/{case_id}")
    assert r.status_code == 200, r.status_code
    assert "stored \ufffd surrogate" in r.get_data(as_text=True)


def test_a_stored_surrogate_still_answers_the_api(api, case_id, stored_surrogate):
    r = api("police.officer").get(f"/cases/{case_id}")
    assert r.status_code == 200, r.data[:300]
    r.get_data().decode("utf-8")  # valid UTF-8 on the wire


# -- duplicate keys ----------------------------------------------------------------------
DUPLICATES = [
    ("narrowing dropped", "/cases/{case}/notes",
     '{"body": "x", "class": "orders", "restricted_to": ["police"], "restricted_to": null}',
     "restricted_to"),
    ("nested", "/cases",
     '{"perpetrator": {"name": "A", "name": "B"}, "victims": [{"name": "V"}]}',
     "perpetrator.name"),
    ("in a list", "/cases",
     '{"perpetrator": {"name": "A"}, "victims": [{"name": "V"}, {"name": "V", "name": "W"}]}',
     "victims.1.name"),
    ("top level", "/cases",
     '{"perpetrator": {"name": "A"}, "victims": [{"name": "V"}], "victims": [{"name": "W"}]}',
     "victims"),
]


@pytest.mark.parametrize(("label", "path", "text", "field"), DUPLICATES,
                         ids=[d[0] for d in DUPLICATES])
def test_duplicate_keys_are_400_naming_the_key(api, case_id, unchanged, label, path, text,
                                               field):
    r = _raw(api, "police.officer", "post", path.format(case=case_id), text)
    assert_400(r, field)
    assert "more than once" in r.get_json()["error"]["message"]


def test_duplicate_keys_on_sign_in_by_api_are_400(api, unchanged):
    text = '{"username": "police.officer", "password": "x", "password": "demo-password-2026"}'
    assert_400(_raw(api, None, "post", "/auth/token", text), "password")


def test_nan_and_infinity_are_not_json(api, case_id, unchanged):
    r = _raw(api, "police.officer", "put", f"/cases/{case_id}/notes/1",
             '{"body": "x", "version": NaN}')
    assert r.status_code == 400, r.status_code


# -- NUL on a path no route matches ------------------------------------------------------
@pytest.mark.parametrize("path", ["/api/v1/nowhere?a=%00", "/api/v1/nowhere%00",
                                  "/api/v1/cases/1/nothing?q=a%00b"])
def test_nul_on_an_unknown_api_path_is_400_json(client, path):
    r = client.get(path)
    assert r.status_code == 400, (r.status_code, r.data[:200])
    assert r.get_json()["error"]["code"] == "invalid"


def test_nul_on_an_unknown_page_is_400(client):
    assert client.get("/nowhere?a=%00").status_code == 400


# -- redirects never point at a host the request named -----------------------------------
@pytest.mark.parametrize("path", ["/cases//1", "/cases", "//cases/", "/api/v1//cases",
                                  "/api/v1/cases//1//notes", "/audit//", "//sign-in"])
def test_redirects_never_name_the_requested_host(client, path):
    r = client.get("/", environ_overrides={"PATH_INFO": path},
                   headers={"Host": "evil.example"})
    assert r.status_code in (200, 301, 302, 303, 307, 308, 404), (path, r.status_code)
    location = r.headers.get("Location", "")
    assert "evil.example" not in location, (path, location)
    if location:
        assert location.startswith("/") and not location.startswith(("//", "/\\")), location


def test_merged_slashes_still_lead_to_the_page(client):
    r = client.get("/", environ_overrides={"PATH_INFO": "/cases//1", "QUERY_STRING": "a=1"})
    assert r.status_code == 308
    assert r.headers["Location"] == "/cases/1?a=1"


# -- ids in canonical ASCII only ---------------------------------------------------------
NON_CANONICAL = ["%EF%BC%91", "01", "001", "%D9%A1", "+1", " 1", "1%20", "0x1", "1_0"]


def _int_rules(app, api_only: bool):
    from werkzeug.routing import IntegerConverter

    for rule in app.url_map.iter_rules():
        ints = [a for a in rule.arguments
                if isinstance(rule._converters[a], IntegerConverter)]
        if ints and rule.endpoint.startswith("api.") == api_only:
            yield rule, ints


def _path_with(rule, ints, odd: str) -> str:
    path = rule.rule
    for name in rule.arguments:
        value = odd if name == ints[0] else ("1" if name in ints else "x")
        path = path.replace(f"<int:{name}>", value).replace(f"<{name}>", value)
    return path


@pytest.mark.parametrize("odd", NON_CANONICAL)
def test_ids_not_in_canonical_ascii_reach_no_api_route(app, client, tokens, odd):
    rules = list(_int_rules(app, api_only=True))
    assert len(rules) >= 15
    for rule, ints in rules:
        method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        path = _path_with(rule, ints, odd)
        r = client.open(path, method=method, headers=tokens["dpo"])
        assert r.status_code == 404, (method, path, r.status_code, r.data[:200])


@pytest.mark.parametrize("odd", NON_CANONICAL)
def test_ids_not_in_canonical_ascii_reach_no_page(app, client, odd):
    sign_in(client, "police.officer")
    rules = list(_int_rules(app, api_only=False))
    assert len(rules) >= 10
    for rule, ints in rules:
        method = sorted(rule.methods - {"HEAD", "OPTIONS"})[0]
        path = _path_with(rule, ints, odd)
        r = client.open(path, method=method)
        assert r.status_code == 404, (method, path, r.status_code)


def test_the_canonical_id_still_reaches_the_case(api, client, case_id):
    assert api("police.officer").get(f"/cases/{case_id}").status_code == 200
    sign_in(client, "police.officer")
    assert client.get(f"/cases/{case_id}").status_code == 200


# -- headers HTTP asks for on refusals ---------------------------------------------------
def test_405_says_which_methods_are_allowed(api, client, case_id):
    r = api("police.officer").delete(f"/cases/{case_id}")
    assert r.status_code == 405
    assert set(r.headers["Allow"].replace(" ", "").split(",")) >= {"GET", "PATCH"}
    assert r.get_json()["error"]["code"] == "method_not_allowed"
    sign_in(client, "police.officer")
    r = client.delete(f"/cases/{case_id}")
    assert r.status_code == 405
    assert "GET" in r.headers["Allow"]


def test_oversized_body_is_413(app, api, client, case_id, unchanged):
    big = "x" * (app.config["MAX_CONTENT_LENGTH"] + 1)
    r = api("police.officer").post(f"/cases/{case_id}/notes",
                                   json={"body": big, "class": "orders"})
    assert r.status_code == 413, r.status_code
    assert r.get_json()["error"]["code"] == "too_large"
    sign_in(client, "police.officer")
    r = client.post(f"/cases/{case_id}/notes/new", data={"body": big, "class": "orders"})
    assert r.status_code == 413, r.status_code
    assert "too large" in r.get_data(as_text=True).lower()


@pytest.fixture(scope="module", params=BACKENDS)
def limited_app(request, tmp_path_factory):
    from hub.seed import seed_demo

    app = build_app(request.param, tmp_path_factory.mktemp(f"limited-{request.param}"),
                    request, RATELIMIT_ENABLED=True)
    with app.app_context():
        seed_demo()
    yield app
    with app.app_context():
        db.engine.dispose()


@pytest.fixture
def limited_client(limited_app):
    with limited_app.app_context():
        limiter.reset()  # each test starts with its own allowance
    return limited_app.test_client()


def _retry_after(response) -> int:
    value = response.headers.get("Retry-After", "")
    assert value.isdigit(), dict(response.headers)
    return int(value)


@pytest.mark.parametrize(("path", "body"), [("/api/v1/auth/token", "json"),
                                            ("/sign-in", "data")])
def test_429_says_when_to_retry(limited_client, path, body):
    def attempt(i):
        return limited_client.post(path, **{body: {"username": f"user{i}", "password": "x"}})
    statuses = [attempt(i).status_code for i in range(20)]
    assert 429 not in statuses
    r = attempt(20)
    assert r.status_code == 429
    # The window is a minute; whole seconds rounded up (never too early) can make it 61.
    assert 1 <= _retry_after(r) <= 61


def test_429_from_the_per_username_lock_says_when_to_retry(limited_client):
    """The per-username lock answers 429 from the view itself: it needs Retry-After too."""
    statuses = []
    for _ in range(12):
        r = limited_client.post("/api/v1/auth/token",
                                json={"username": "police.officer", "password": "wrong"})
        statuses.append(r.status_code)
        if r.status_code == 429:
            assert r.get_json()["error"]["code"] == "throttled"  # the lock, not the limiter
            assert _retry_after(r) >= 1
            return
    pytest.fail(f"never throttled: {statuses}")
