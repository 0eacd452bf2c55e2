"""Every route in ``app.url_map`` is in the table below, which says how access to it is
decided; every (route, user who must be refused) pair is tried and must be refused without
a byte of case data; and each route lets at least its intended user through.

The table is written by hand. A new route fails ``test_every_route_is_in_the_table`` with
its name until someone decides who may use it and adds it here.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from sqlalchemy import select

from hub.accounts.models import Agency, Area, User
from hub.policy import Permission, Principal
from tests.helpers_matrix import (
    MEMBERS,
    PERMISSIONS,
    USERS,
    WRITE,
    agency,
    case_data_strings,
    demo_cases,
    found,
    sign_in,
)

REASON = "Imminent risk reported by a neighbour tonight"


@dataclass(frozen=True)
class Access:
    """How a route decides. ``public`` routes have no denial test."""

    public: bool = False
    signed_in: bool = False  #: any signed-in user (else 401)
    permission: str | None = None  #: the role must hold it (else 403)
    member: bool = False  #: the caller must be on the case team (else 404)
    writes: str | None = None  #: the caller's agency must write this class (else 403)
    author_agency: str | None = None  #: only the entry's authoring agency (else 403)
    body: dict | None = None  #: JSON or form body that would succeed for an allowed user
    may_404: bool = False  #: the id used may not exist, so 404 is fine for the allowed user


PUBLIC = Access(public=True)
SIGNED_IN = Access(signed_in=True, may_404=True)


def perm(permission: str, **kwargs) -> Access:
    return Access(permission=permission, **kwargs)


NOTE = {"body": "A note for the route test.", "class": "orders"}
# (endpoint, method) -> how access is decided. API routes take bearer tokens; the rest are
# pages for signed-in people.
ROUTES: dict[tuple[str, str], Access] = {
    # -- public ------------------------------------------------------------------------------
    ("static", "GET"): PUBLIC,
    ("govuk_assets.static", "GET"): PUBLIC,
    ("healthz", "GET"): PUBLIC,
    ("favicon", "GET"): PUBLIC,
    ("home", "GET"): PUBLIC,  # a redirect to the case list, which is protected
    ("accounts.sign_in", "GET"): PUBLIC,
    ("accounts.sign_in", "POST"): PUBLIC,
    ("accounts.mfa", "GET"): PUBLIC,  # only for a session waiting for its code
    ("accounts.mfa", "POST"): PUBLIC,
    ("accounts.enrol", "GET"): PUBLIC,  # likewise; 404 otherwise
    ("accounts.enrol", "POST"): PUBLIC,
    ("accounts.sign_out", "POST"): PUBLIC,
    # only for a session signed in with a temporary password; a redirect otherwise
    ("accounts.choose_password", "GET"): PUBLIC,
    ("accounts.choose_password", "POST"): PUBLIC,
    # -- your account: yours only, so any signed-in user ------------------------------------
    ("accounts.account", "GET"): SIGNED_IN,
    ("accounts.change_password", "GET"): SIGNED_IN,
    ("accounts.change_password", "POST"): Access(signed_in=True, body={}),
    ("accounts.sessions", "GET"): SIGNED_IN,
    # someone else's session or token id is a 404 (tests/test_credentials.py)
    ("accounts.end_session", "POST"): SIGNED_IN,
    ("accounts.end_token", "POST"): SIGNED_IN,
    ("oidc.choose", "GET"): PUBLIC,
    ("oidc.begin", "POST"): PUBLIC,
    ("oidc.callback", "GET"): PUBLIC,
    ("api.issue_token", "POST"): PUBLIC,
    ("api.openapi", "GET"): PUBLIC,
    # -- cases: API --------------------------------------------------------------------------
    ("api.list_cases", "GET"): perm("case:list"),
    ("api.create_case", "POST"): perm("case:create", body={
        "perpetrator": {"name": "Route Perp"}, "victims": [{"name": "Route Victim"}]}),
    ("api.get_case", "GET"): Access(member=True),
    ("api.update_case", "PATCH"): Access(member=True, writes="case.core",
                                         body={"version": 1, "risk_level": "high"}),
    ("api.add_member", "POST"): perm("case:member:add", member=True,
                                     body={"agency": "police"}),
    ("api.list_notes", "GET"): Access(member=True),
    ("api.add_note", "POST"): perm("entry:create", member=True, writes="orders", body=NOTE),
    ("api.edit_note", "PUT"): Access(member=True, author_agency="police",
                                     body={"body": "Edited.", "version": 1}),
    ("api.break_glass", "POST"): perm("case:break-glass", body={"reason": REASON}),
    ("api.remove_member", "DELETE"): perm("case:member:add", member=True),
    # -- cases: pages ------------------------------------------------------------------------
    ("cases.index", "GET"): perm("case:list"),
    ("cases.new", "GET"): perm("case:create"),
    ("cases.new", "POST"): perm("case:create", body={"perpetrator_name": "Route Perp",
                                                     "victim_name": "Route Victim"}),
    ("cases.show", "GET"): Access(member=True),
    ("cases.new_entry", "GET"): perm("entry:create", member=True),
    ("cases.new_entry", "POST"): perm("entry:create", member=True, body=NOTE),
    ("cases.add_member", "POST"): perm("case:member:add", member=True,
                                       body={"agency": "police"}),
    ("cases.break_glass", "GET"): perm("case:break-glass"),
    ("cases.break_glass", "POST"): perm("case:break-glass", body={"reason": REASON}),
    # the case team page and removals (issue 10): members whose role adds members
    ("cases.team", "GET"): perm("case:member:add", member=True),
    ("cases.remove_member", "GET"): perm("case:member:add", member=True),
    ("cases.remove_member", "POST"): perm("case:member:add", member=True),
    # break-glass by a typed reference: only a reasoned request resolves it
    ("cases.break_glass_by_reference", "GET"): perm("case:break-glass"),
    ("cases.break_glass_by_reference", "POST"): perm("case:break-glass", body={
        "reason": REASON, "reference": "STAC-LON-2026-00001"}),
    # -- audit log and DPO: API --------------------------------------------------------------
    ("api.audit_events", "GET"): perm("audit:read"),
    ("api.audit_export", "GET"): perm("audit:read"),
    ("api.case_history", "GET"): perm("audit:read"),
    ("api.person_history", "GET"): perm("audit:read"),
    ("api.user_history", "GET"): perm("audit:read"),
    ("api.person_subject_access", "GET"): perm("subject-access:read"),
    ("api.person_exemption", "POST"): perm("subject-access:read", body={}),
    ("api.person_erasure", "POST"): perm("retention:erase", body={}),
    ("api.retention_queue", "GET"): perm("retention:erase"),
    # Hashes and signatures only, for anyone who verifies the log: no personal data.
    ("api.audit_checkpoint", "GET"): SIGNED_IN,
    ("api.audit_inclusion_proof", "GET"): SIGNED_IN,
    ("api.audit_consistency_proof", "GET"): SIGNED_IN,
    ("api.alert_list", "GET"): perm("alert:review"),
    ("api.alert_show", "GET"): perm("alert:review", may_404=True),
    ("api.alert_close", "POST"): perm("alert:review", body={}, may_404=True),
    # -- audit log, DPO and policy: pages ----------------------------------------------------
    ("audit.events", "GET"): perm("audit:read"),
    ("audit.export", "GET"): perm("audit:read"),
    ("audit.case_history", "GET"): perm("audit:read"),
    ("audit.person_history", "GET"): perm("audit:read"),
    ("audit.user_history", "GET"): perm("audit:read"),
    ("dpo.dashboard", "GET"): perm("audit:read"),
    ("dpo.alert_list", "GET"): perm("alert:review"),
    ("dpo.alert_show", "GET"): perm("alert:review", may_404=True),
    ("dpo.alert_close", "POST"): perm("alert:review", body={}, may_404=True),
    ("dpo.subject_access_page", "GET"): perm("subject-access:read"),
    ("dpo.exemption", "POST"): perm("subject-access:read", body={}),
    ("dpo.retention_queue", "GET"): perm("retention:erase"),
    ("dpo.erase", "POST"): perm("retention:erase", body={}),
    ("policy.matrix", "GET"): perm("policy:read"),
    # -- administration: API and pages -------------------------------------------------------
    ("api.admin_users", "GET"): perm("admin:manage"),
    ("api.admin_user", "GET"): perm("admin:manage"),
    ("api.admin_update_user", "PATCH"): perm("admin:manage", body={}),
    ("api.admin_deactivate_user", "POST"): perm("admin:manage"),
    ("api.admin_reactivate_user", "POST"): perm("admin:manage"),
    ("api.admin_create_user", "POST"): perm("admin:manage", body={}),
    ("api.admin_reset_sign_in", "POST"): perm("admin:manage"),
    ("api.admin_agencies", "GET"): perm("admin:manage"),
    ("api.admin_update_agency", "PATCH"): perm("admin:manage", body={}),
    ("api.admin_roles", "GET"): perm("admin:manage"),
    ("api.admin_providers", "GET"): perm("admin:manage"),
    ("api.admin_provider", "GET"): perm("admin:manage", may_404=True),
    ("api.admin_create_provider", "POST"): perm("admin:manage", body={}),
    ("api.admin_update_provider", "PATCH"): perm("admin:manage", body={}, may_404=True),
    ("admin.index", "GET"): perm("admin:manage"),
    ("admin.users", "GET"): perm("admin:manage"),
    ("admin.user", "GET"): perm("admin:manage"),
    ("admin.set_role", "POST"): perm("admin:manage", body={}),
    ("admin.deactivate", "POST"): perm("admin:manage", body={}),
    ("admin.reactivate", "POST"): perm("admin:manage", body={}),
    ("admin.new_user", "GET"): perm("admin:manage"),
    ("admin.new_user", "POST"): perm("admin:manage", body={}),
    ("admin.reset_sign_in", "POST"): perm("admin:manage", body={}),
    ("admin.agencies", "GET"): perm("admin:manage"),
    ("admin.set_agency", "POST"): perm("admin:manage", body={}),
    ("admin.roles", "GET"): perm("admin:manage"),
    ("admin.providers", "GET"): perm("admin:manage"),
    ("admin.new_provider", "GET"): perm("admin:manage"),
    ("admin.new_provider", "POST"): perm("admin:manage", body={}),
    ("admin.edit_provider", "GET"): perm("admin:manage", may_404=True),
    ("admin.edit_provider", "POST"): perm("admin:manage", body={}, may_404=True),
}

# Suspending an agency is confirmed on its own page first (the hub's own agency never).
ROUTES.update({
    ("admin.confirm_suspension", "GET"): perm("admin:manage"),
    ("admin.suspend_agency", "POST"): perm("admin:manage", body={"confirm": "no"}),
})
# The DPO finds a person by name and a case by reference (record metadata only).
ROUTES.update({
    ("dpo.find_person", "GET"): perm("audit:read"),
    ("dpo.find_case", "GET"): perm("audit:read"),
})

# The case page (issue 10): status, risk level and review date; corrections of a person's
# details. The person is the first demo case's victim, so a phone number is victim.location.
CORRECTION = {"phone": "07700 900111"}
ROUTES.update({
    ("cases.update_core", "POST"): Access(member=True, writes="case.core", body={
        "version": "1", "status": "active", "risk_level": "high"}),
    ("cases.edit_person", "GET"): Access(member=True, writes="victim.location"),
    ("cases.edit_person", "POST"): Access(member=True, writes="victim.location",
                                          body=CORRECTION),
    ("api.update_person", "PATCH"): Access(member=True, writes="victim.location",
                                           body=CORRECTION),
})

# Areas and agencies as data an administrator manages (issue 11): administrators only.
ROUTES.update({
    ("api.admin_areas", "GET"): perm("admin:manage"),
    ("api.admin_create_area", "POST"): perm("admin:manage", body={}),
    ("api.admin_area", "GET"): perm("admin:manage"),
    ("api.admin_update_area", "PATCH"): perm("admin:manage", body={}),
    ("api.admin_create_agency", "POST"): perm("admin:manage", body={}),
    ("api.admin_agency", "GET"): perm("admin:manage"),
    ("admin.areas", "GET"): perm("admin:manage"),
    ("admin.new_area", "GET"): perm("admin:manage"),
    ("admin.new_area", "POST"): perm("admin:manage", body={}),
    ("admin.change_area", "GET"): perm("admin:manage"),
    ("admin.change_area", "POST"): perm("admin:manage", body={}),
    ("admin.new_agency", "GET"): perm("admin:manage"),
    ("admin.new_agency", "POST"): perm("admin:manage", body={}),
    ("admin.change_agency", "GET"): perm("admin:manage"),
    ("admin.change_agency", "POST"): perm("admin:manage", body={}),
})

STATIC_FILES = {"static": "hub.css", "govuk_assets.static": "images/favicon.svg"}


def is_api(endpoint: str) -> bool:
    return endpoint.startswith("api.")


def refusals(endpoint: str, access: Access) -> dict[str | None, int]:
    """Who must be refused, and with which status, derived from the table's rule alone."""
    out: dict[str | None, int] = {None: 401 if is_api(endpoint) else 302}
    for user in USERS:
        if user == "outsider.officer" and not access.member:
            continue  # the same role as police.officer: only membership tells them apart
        if access.permission and access.permission not in PERMISSIONS[user]:
            out[user] = 403
        elif access.member and user not in MEMBERS:
            out[user] = 404  # existence is not revealed
        elif not _agency_may(agency(user), access):
            out[user] = 403
    return out


def _agency_may(code: str, access: Access) -> bool:
    """The class-level and authorship checks a member must also pass."""
    if access.writes and access.writes not in WRITE.get(code, set()):
        return False
    return access.author_agency is None or code == access.author_agency


def allowed_user(endpoint: str, access: Access) -> str:
    denied = refusals(endpoint, access)
    return next(u for u in USERS if u not in denied and u != "outsider.officer")


DENIALS = [(endpoint, method, user, status)
           for (endpoint, method), access in ROUTES.items() if not access.public
           for user, status in refusals(endpoint, access).items()]


@pytest.fixture(scope="module")
def params(app) -> dict[str, object]:
    """Real ids for every URL parameter: the first demo case and things in it."""
    from hub.extensions import db

    with app.app_context():
        cases = demo_cases(db.session)
        case = cases[0]
        order = next(i for i, (c, k, _r, _b) in case.entries.items()
                     if (c, k) == ("orders", "order"))
        nhs = db.session.scalar(select(User).where(User.username == "nhs.clinician"))
        return {"case_id": case.id, "entry_id": order, "person_id": case.victims[0][0],
                "user_id": nhs.id, "agency_id": db.session.scalar(
                    select(Agency.id).where(Agency.code == "nhs")),
                "area_id": db.session.scalar(select(Area.id).where(Area.code == "london")),
                "username": "nhs.clinician", "alert_id": 1, "provider_id": 1, "seq": 1,
                "slug": "none", "session_id": 1, "token_id": 1,
                "membership_id": _membership_id(db.session, case.id, nhs.id),
                "strings": case_data_strings(cases)}


@pytest.fixture(scope="module")
def cookies(app) -> dict[str, str]:
    """Each demo user signed in once through POST /sign-in; each test reuses the cookie.

    Signing in per test would spend most of the run in argon2. The sessions are committed,
    like the API tokens of conftest's ``tokens`` fixture."""
    name, out = app.config["SESSION_COOKIE_NAME"], {}
    for user in USERS:
        client = app.test_client()
        with app.app_context():
            sign_in(client, user)
        out[user] = client.get_cookie(name).value
    return out


def url_for_route(app, endpoint: str, params: dict) -> str:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    values = {name: params[name] for name in rule.arguments if name != "filename"}
    if "filename" in rule.arguments:
        values["filename"] = STATIC_FILES[endpoint]
    with app.test_request_context():
        from flask import url_for

        return url_for(endpoint, **values)


def call(app, client, auth, endpoint: str, method: str, user: str | None, params: dict):
    """Make the route's request as ``user`` (a bearer token for the API, else a cookie)."""
    tokens, cookies = auth
    access = ROUTES[(endpoint, method)]
    url = url_for_route(app, endpoint, params)
    if is_api(endpoint):
        headers = tokens[user] if user else {}
        kwargs = {"json": access.body} if access.body is not None else {}
        return client.open(url, method=method, headers=headers, **kwargs)
    if user:
        client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookies[user])
    kwargs = {"data": access.body} if access.body is not None else {}
    return client.open(url, method=method, **kwargs)


@pytest.fixture
def auth(tokens, cookies):
    return tokens, cookies


def test_every_route_is_in_the_table(app):
    served = {(r.endpoint, m) for r in app.url_map.iter_rules()
              for m in r.methods - {"HEAD", "OPTIONS"}}
    missing = sorted(served - set(ROUTES))
    assert not missing, f"routes with no access rule in tests/test_routes.py: {missing}"
    stale = sorted(set(ROUTES) - served)
    assert not stale, f"routes in the table that the hub no longer serves: {stale}"


def test_the_table_agrees_with_the_policy(app):
    """Each permission the table names exists and is held by exactly the demo users the
    table expects (roles.yaml); a route gated by a permission nobody holds is dead."""
    policy = app.extensions["hub.policy"]
    with app.app_context():
        users = {u.username: u for u in _users(app)}
        for access in ROUTES.values():
            if access.permission is None:
                continue
            permission = Permission(access.permission)
            for username, user in users.items():
                holds = policy.has_permission(Principal.of(user), permission)
                assert holds == (access.permission in PERMISSIONS[username]), \
                    (username, access.permission)
    assert all(a.public or a.signed_in or a.permission or a.member for a in ROUTES.values())


def _users(app):
    from hub.extensions import db

    return db.session.scalars(select(User).where(User.username.in_(list(USERS)))).all()


@pytest.mark.parametrize(("endpoint", "method", "user", "status"), DENIALS,
                         ids=[f"{e}-{m}-{u or 'anonymous'}" for e, m, u, _s in DENIALS])
def test_route_refuses(app, client, auth, params, endpoint, method, user, status):
    r = call(app, client, auth, endpoint, method, user, params)
    assert r.status_code == status, (r.status_code, r.get_data(as_text=True)[:300])
    if status == 302:
        assert "/sign-in" in r.location
    body = r.get_data(as_text=True)
    assert not found(body, params["strings"]), found(body, params["strings"])
    if is_api(endpoint):
        assert set(r.get_json()) == {"error"}


PROTECTED = [key for key, access in ROUTES.items() if not access.public]


@pytest.mark.parametrize(("endpoint", "method"), PROTECTED,
                         ids=[f"{e}-{m}" for e, m in PROTECTED])
def test_route_lets_its_intended_user_through(app, client, auth, params, endpoint, method):
    """The control for the denials: the same request works for someone allowed."""
    access = ROUTES[(endpoint, method)]
    user = allowed_user(endpoint, access)
    r = call(app, client, auth, endpoint, method, user, params)
    assert r.status_code < 500 and r.status_code not in (401, 403), (user, r.status_code)
    if not access.may_404:
        assert r.status_code != 404, (user, r.get_data(as_text=True)[:300])


@pytest.mark.parametrize(("endpoint", "method"), [k for k, a in ROUTES.items() if a.public])
def test_public_routes_answer_anonymously_without_case_data(app, client, auth, params,
                                                            endpoint, method):
    r = call(app, client, auth, endpoint, method, None, params)
    assert r.status_code < 500
    assert not found(r.get_data(as_text=True), params["strings"])
    r.close()  # a static file's handle


def _membership_id(session, case_id: int, user_id: int) -> int:
    """A place on the first demo case's team: the clinician's (for the removal routes)."""
    from hub.cases.models import Membership

    return session.scalar(select(Membership.id).where(Membership.case_id == case_id,
                                                      Membership.user_id == user_id))
