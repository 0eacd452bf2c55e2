"""What an attacker would try, route by route. Each test names the attack it stands for."""

from __future__ import annotations

import base64
import json
from datetime import timedelta

import pytest
from joserfc import jwt
from joserfc.jwk import OctKey, RSAKey
from sqlalchemy import func, select, update

from hub.accounts.models import ApiToken, Area, User
from hub.accounts.security import token_hash
from hub.auditlog.models import AuditEvent
from hub.cases.models import BreakGlassGrant, Case, Membership, Person
from hub.timeutil import utcnow
from tests.support.apps import demo_case_ids
from tests.support.factories import leave_team, sign_in

CASE_WORDS = ["Fenwick", "Example Road", "Testwell", "harassment convictions", "0ZZ",
              "07700", "example.org"]
BODIES = {"POST": {"reason": "checking", "body": "x", "class": "case.core",
                   "username": "police.officer", "active": False},
          "PATCH": {"version": 1, "summary": "x", "active": False},
          "PUT": {"version": 1, "body": "x"}}


def leaks(text: str) -> list[str]:
    return [w for w in CASE_WORDS if w in text]


def id_routes(app, prefix: str):
    for rule in app.url_map.iter_rules():
        if rule.rule.startswith(prefix) and any(
                type(rule._converters[a]).__name__ == "DatabaseInt" for a in rule.arguments):
            for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
                yield rule, method


# Open to every signed-in user by design (CONTRACT.md): hashes of the log, never content.
HASH_ONLY_ROUTES = {"/api/v1/audit/events/<int:seq>/proof":
                    {"leaf_index", "tree_size", "leaf_hash", "proof"}}


def every_id(session) -> list[int]:
    cases = list(demo_case_ids(session).values())
    people = list(session.scalars(select(Person.id)))
    return sorted(set(cases + people + [1, 2, 3]))


# -- other people's ids -----------------------------------------------------------------------
def test_api_routes_with_ids_not_yours_reveal_nothing(app, api, session):
    """outsider.officer is a police officer on no case: every id is someone else's."""
    outsider, routes = api("outsider.officer"), list(id_routes(app, "/api/"))
    assert len(routes) >= 15
    for rule, method in routes:
        for some_id in every_id(session):
            path = rule.rule.removeprefix("/api/v1")
            for arg in rule.arguments:
                path = path.replace(f"<int:{arg}>", str(some_id)).replace(f"<{arg}>", "x")
            r = getattr(outsider, method.lower())(path, json=BODIES.get(method))
            if rule.rule in HASH_ONLY_ROUTES and r.status_code == 200:
                assert set(r.json) == HASH_ONLY_ROUTES[rule.rule], (path, r.json)
            else:
                assert r.status_code in {403, 404}, (method, path, r.status_code, r.json)
            assert not leaks(r.text), (method, path)


def test_pages_with_ids_not_yours_reveal_nothing(app, client, session):
    sign_in(client, "outsider.officer")
    for rule, method in id_routes(app, "/"):
        if rule.rule.startswith("/api/") or method != "GET":
            continue
        for some_id in every_id(session):
            path = rule.rule
            for arg in rule.arguments:
                path = path.replace(f"<int:{arg}>", str(some_id)).replace(f"<{arg}>", "x")
            r = client.get(path)
            assert r.status_code in {403, 404}, (path, r.status_code)
            assert not leaks(r.text), path


def test_break_glass_cannot_make_itself_permanent(api, client, session):
    """A time-limited grant must not buy a seat on the team for the holder or their agency."""
    case_id = min(demo_case_ids(session).values())
    leave_team("police.supervisor", case_id)
    supervisor = api("police.supervisor")
    r = supervisor.post(f"/cases/{case_id}/break-glass",
                        json={"reason": "Imminent risk reported tonight"})
    assert r.status_code == 200, r.json
    members = session.scalar(select(func.count(Membership.id)))
    for body in ({"username": "police.supervisor"}, {"agency": "police"}):
        r = supervisor.post(f"/cases/{case_id}/members", json=body)
        assert r.status_code == 403, (body, r.json)
    sign_in(client, "police.supervisor")
    page = client.get(f"/cases/{case_id}")
    assert page.status_code == 200 and "Add to team" not in page.text
    r = client.post(f"/cases/{case_id}/members", data={"username": "police.supervisor"})
    assert r.status_code == 403
    assert session.scalar(select(func.count(Membership.id))) == members
    refused = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "case:member:add", AuditEvent.outcome == "denied")).all()
    assert len(refused) == 3 and all(e.case_id == case_id for e in refused)


def test_break_glass_stops_at_the_area_border(api, session):
    """A London supervisor cannot break into a Hampshire case: to them it does not exist."""
    hampshire = session.scalar(select(Case.id).join(Case.area).where(Area.code == "hampshire")
                               .order_by(Case.id))
    leave_team("police.supervisor", hampshire)
    r = api("police.supervisor").post(f"/cases/{hampshire}/break-glass",
                                      json={"reason": "Imminent risk reported tonight"})
    assert r.status_code == 404
    assert session.scalar(select(func.count(BreakGlassGrant.id))
                          .where(BreakGlassGrant.case_id == hampshire)) == 0
    refused = session.scalars(select(AuditEvent).where(AuditEvent.action == "case:break-glass")
                              .order_by(AuditEvent.seq.desc())).first()
    assert (refused.outcome, refused.rule, refused.case_id) == (
        "denied", "case in another area", hampshire)


def test_hidden_cases_do_not_exist_in_lists_or_counts(api, session):
    r = api("outsider.officer").get("/cases")
    assert r.json["total"] == 0 and r.json["items"] == []


# -- tokens -----------------------------------------------------------------------------------
def _hs256(claims: dict) -> str:
    return jwt.encode({"alg": "HS256"}, claims, OctKey.import_key("secret" * 6))


def _none(claims: dict) -> str:
    def b64(data: dict) -> str:
        return base64.urlsafe_b64encode(json.dumps(data).encode()).rstrip(b"=").decode()
    return f"{b64({'alg': 'none', 'typ': 'JWT'})}.{b64(claims)}."


def _rs256(claims: dict) -> str:
    return jwt.encode({"alg": "RS256"}, claims, RSAKey.generate_key(2048))


FORGED_CLAIMS = {"sub": "admin", "username": "admin", "role": "admin", "agency": "hub",
                 "exp": 4_000_000_000}


@pytest.mark.parametrize("forge", [_hs256, _none, _rs256])
def test_jwt_looking_tokens_are_not_credentials(api, session, forge):
    header = {"Authorization": f"Bearer {forge(FORGED_CLAIMS)}"}
    for path in ["/cases", "/admin/users", "/audit/events"]:
        assert api(None).get(path, headers=header).status_code == 401


def test_altered_token_is_refused(api, session, tokens):
    real = tokens["police.officer"]["Authorization"]
    altered = real[:-1] + ("A" if real[-1] != "A" else "B")
    assert api(None).get("/cases", headers={"Authorization": altered}).status_code == 401


def test_token_of_one_user_gives_that_user_only(api, session):
    """Swapping tokens cannot add up rights: each token is exactly its user."""
    assert api("nhs.clinician").get("/admin/users").status_code == 403
    assert api("admin").get("/cases").status_code == 403


def test_expired_token_is_refused(api, session, tokens):
    raw = tokens["police.officer"]["Authorization"].removeprefix("Bearer ")
    session.execute(update(ApiToken).where(ApiToken.token_hash == token_hash(raw))
                    .values(expires_at=utcnow() - timedelta(seconds=1)))
    session.commit()
    assert api("police.officer").get("/cases").status_code == 401


@pytest.mark.parametrize("where", ["query", "basic", "cookie"])
def test_token_only_in_the_bearer_header(api, client, session, tokens, where):
    raw = tokens["police.officer"]["Authorization"].removeprefix("Bearer ")
    if where == "query":
        r = client.get(f"/api/v1/cases?access_token={raw}")
    elif where == "basic":
        r = client.get("/api/v1/cases", headers={"Authorization": f"Basic {raw}"})
    else:
        client.set_cookie("access_token", raw)
        r = client.get("/api/v1/cases")
    assert r.status_code in {400, 401}


# -- session fixation and replay --------------------------------------------------------------
def _cookie(client) -> str:
    cookie = client.get_cookie("hub_session")
    return cookie.value if cookie else ""


def test_session_fixation(app, session):
    attacker, victim = app.test_client(), app.test_client()
    attacker.get("/sign-in")  # a pre-sign-in session, handed to the victim somehow
    planted = _cookie(attacker)
    victim.set_cookie("hub_session", planted)
    sign_in(victim, "police.officer")
    assert _cookie(victim) != planted
    assert attacker.get("/cases/").status_code == 302  # the planted session is not signed in


def test_a_stolen_cookie_dies_with_sign_out(app, session):
    victim, thief = app.test_client(), app.test_client()
    sign_in(victim, "police.officer")
    thief.set_cookie("hub_session", _cookie(victim))
    assert thief.get("/cases/").status_code == 200
    victim.post("/sign-out")
    assert thief.get("/cases/").status_code == 302  # revoked on the server, not just forgotten


# -- XSS --------------------------------------------------------------------------------------
XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>"\'&'
# Not the summary's own text: the hub refuses a victim's address in the case summary.
VICTIM_XSS = XSS.replace('"x"', '"v"')


def _xss_case(api) -> int:
    body = {"summary": XSS, "perpetrator": {"name": XSS, "aliases": [XSS], "address": XSS},
            "victims": [{"name": XSS, "address": VICTIM_XSS, "workplace": VICTIM_XSS}]}
    r = api("police.officer").post("/cases", json=body)
    assert r.status_code == 201, r.json
    note = api("police.officer").post(f"/cases/{r.json['id']}/notes",
                                      json={"body": XSS, "class": "case.core"})
    assert note.status_code == 201, note.json
    return r.json["id"]


def test_xss_in_every_case_field_is_escaped_on_pages(api, client, session):
    case_id = _xss_case(api)
    sign_in(client, "police.officer")
    for path in [f"/cases/{case_id}", "/cases/"]:
        page = client.get(path)
        assert page.status_code == 200, path
        assert "<script>alert" not in page.text and "<img src=x" not in page.text, path
    assert "&lt;script&gt;alert" in client.get(f"/cases/{case_id}").text


def test_xss_in_json_stays_data(api, session):
    case_id = _xss_case(api)
    r = api("police.officer").get(f"/cases/{case_id}")
    assert r.mimetype == "application/json"
    assert r.headers["X-Content-Type-Options"] == "nosniff"
    assert r.json["perpetrator"]["name"] == XSS  # returned as the string it was, never markup


def test_xss_in_a_user_name_is_escaped_on_admin_pages(api, client, session):
    target = session.scalar(select(User.id).where(User.username == "police.officer"))
    assert api("admin").patch(f"/admin/users/{target}",
                              json={"display_name": XSS}).status_code == 200
    sign_in(client, "admin")
    for path in ["/admin/users", f"/admin/users/{target}"]:
        text = client.get(path).text
        assert "<script>alert" not in text and "&lt;script&gt;" in text, path


# -- SQL injection ----------------------------------------------------------------------------
SQLI = ["' OR '1'='1", "1; DROP TABLE cases; --", "%' OR 1=1 --", "\\", "%", "_",
        "' UNION SELECT username, password_hash FROM users --", "\x00", "1' AND SLEEP(5)--"]
SEARCHES = [("outsider.officer", "/cases?q={}"), ("dpo", "/audit/events?username={}"),
            ("dpo", "/audit/events?action={}"), ("dpo", "/audit/events?agency={}"),
            ("admin", "/admin/users?q={}"), ("admin", "/admin/users?agency={}")]


@pytest.mark.parametrize("payload", SQLI)
def test_sql_injection_in_filters_and_searches(api, session, payload):
    from urllib.parse import quote

    for user, template in SEARCHES:
        r = api(user).get(template.format(quote(payload)))
        assert r.status_code in {200, 400}, (template, payload, r.status_code)
        if r.status_code == 200:
            assert r.json["total"] == 0, (template, payload)
    assert session.scalar(select(Case.id).limit(1)) is not None  # the table is still there


# -- mass assignment --------------------------------------------------------------------------
CASE = {"perpetrator": {"name": "P"}, "victims": [{"name": "V"}]}


@pytest.mark.parametrize(("path", "body"), [
    ("/cases", {**CASE, "agency": "cps"}), ("/cases", {**CASE, "created_by_id": 1}),
    ("/cases", {**CASE, "perpetrator": {"name": "P", "class": "legal"}}),
    ("/cases", {**CASE, "author": "cps.prosecutor"}), ("/cases", {**CASE, "id": 999}),
    ("/auth/token", {"username": "advocate", "password": "x", "role": "admin"}),
])
def test_mass_assignment_is_refused(api, session, path, body):
    r = api("police.officer").post(path, json=body)
    assert r.status_code == 400, r.json
    assert r.json["error"]["field"]


@pytest.mark.parametrize("extra", [{"author": "cps.prosecutor"}, {"author_id": 1},
                                   {"agency": "cps"}, {"role": "prosecutor"}, {"version": 7}])
def test_mass_assignment_on_notes_is_refused(api, session, extra):
    case_id = next(iter(demo_case_ids(session).values()))
    r = api("police.officer").post(f"/cases/{case_id}/notes",
                                   json={"body": "x", "class": "case.core", **extra})
    assert r.status_code == 400, r.json


@pytest.mark.parametrize("extra", [{"agency": "hub"}, {"agency_id": 8}, {"is_demo": True},
                                   {"oidc_issuer": "https://x"}, {"active": True}])
def test_mass_assignment_on_users_is_refused(api, session, extra):
    target = session.scalar(select(User.id).where(User.username == "advocate"))
    r = api("admin").patch(f"/admin/users/{target}", json={"display_name": "x", **extra})
    assert r.status_code == 400, r.json


# -- oversized and deeply nested input --------------------------------------------------------
@pytest.mark.parametrize("body", [
    "[" * 50_000 + "]" * 50_000,
    '{"a":' * 20_000 + "1" + "}" * 20_000,
    json.dumps({**CASE, "victims": [{"name": "V"}] * 10_000}),
    "{" + ", ".join(f'"k{i}": 1' for i in range(20_000)) + "}",
    "not json", "", "\xff\xfe",
])
def test_oversized_nested_or_broken_json_is_400(api, session, body):
    r = api("police.officer").post("/cases", data=body,
                                   headers={"Content-Type": "application/json"})
    assert r.status_code == 400, r.status_code
    assert r.json["error"]["code"]


def test_oversized_json_is_413_not_500(api, session):
    r = api("police.officer").post("/cases", json={**CASE, "summary": "x" * 400_000})
    assert r.status_code == 413, r.status_code
    assert r.json["error"]["code"] == "too_large"


def test_oversized_form_is_413_not_500(client, session):
    r = client.post("/sign-in", data={"username": "x", "password": "y" * 400_000})
    assert r.status_code == 413
