"""Every route in ``app.url_map`` is in the table below, which says how access to it is
decided; every (route, user who must be refused) pair is tried and must be refused without
a byte of case data; and each route lets its intended user through: a request that
succeeds, answered with the exact status the table names (a 2xx, or the redirect a form
post or a sign-in step makes, to the address the table names, with no error message).

The table is written by hand. A new route fails ``test_every_route_is_in_the_table`` with
its name until someone decides who may use it, and how it succeeds, and adds it here.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import pytest
from sqlalchemy import select

from hub.accounts.models import Agency, Area, User
from hub.cases.models import Referral
from hub.policy import Permission, Principal
from tests.support.matrix import (
    MEMBERS,
    PARTIAL_WRITE,
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


@dataclass
class Ready:
    """The intended user's request, as a route's ``prepare`` completes it."""

    params: dict  #: URL values (a copy: prepare may point them at rows it makes)
    body: dict | None
    query: dict | None
    user: str | None  #: the demo user who makes it (None: the client's own cookies)
    client: object = None
    request: object = None  #: pytest's, for fixtures only a few routes need


@dataclass(frozen=True)
class Access:
    """How a route decides, and how its intended user succeeds. ``public`` routes have no
    denial test."""

    public: bool = False
    signed_in: bool = False  #: any signed-in user (else 401)
    permission: str | None = None  #: the role must hold it (else 403)
    member: bool = False  #: the caller must be on the case team (else 404)
    writes: str | None = None  #: the caller's agency must write this class (else 403)
    kind: str | None = None  #: ... or, if the route writes entries of a kind, that kind of it
    author_agency: str | None = None  #: only the entry's authoring agency (else 403)
    body: dict | None = None  #: JSON or form body that succeeds for the intended user
    ok: int = 200  #: the exact status the intended user's request gets
    to: str | None = None  #: for a redirect: the path it leads to (a regular expression)
    query: dict | None = None  #: query string of every request to the route
    prepare: Callable[[Ready], None] | None = field(default=None, compare=False)
    user: str | None = None  #: the intended user, when not derived from the rule above


PUBLIC = Access(public=True)
SIGNED_IN = Access(signed_in=True)


def perm(permission: str, **kwargs) -> Access:
    return Access(permission=permission, **kwargs)


def public(**kwargs) -> Access:
    return Access(public=True, **kwargs)


# -- what some intended users' requests need first ------------------------------------------
def _user(username: str) -> User:
    from hub.extensions import db

    return db.session.scalar(select(User).where(User.username == username))


def _another_session(ready: Ready) -> None:
    """A second browser of the same user: the one "end this session" ends."""
    from hub.accounts import operations, security
    from hub.accounts.models import UserSession
    from hub.extensions import db

    token = operations.start_session(_user(ready.user), mfa_passed=True)
    ready.params["session_id"] = db.session.scalar(select(UserSession.id).where(
        UserSession.token_hash == security.token_hash(token)))


def _own_token(ready: Ready) -> None:
    from hub.accounts import operations, security
    from hub.accounts.models import ApiToken
    from hub.extensions import db

    token, _ttl = operations.issue_token(_user(ready.user))
    ready.params["token_id"] = db.session.scalar(select(ApiToken.id).where(
        ApiToken.token_hash == security.token_hash(token)))


def _sequenced(ready: Ready) -> None:
    """The events so far are leaves of the tree under a signed checkpoint."""
    from hub.auditlog import sequencer

    sequencer.run_once()


def _two_sizes(ready: Ready) -> None:
    from hub.auditlog.tree import tree_size

    _sequenced(ready)
    ready.query = {"first": 1, "second": tree_size()}


def _alert(ready: Ready) -> None:
    """A break-glass, which raises the alert a DPO reviews."""
    from hub.cases import operations
    from hub.cases.models import Case
    from hub.dpo.models import Alert
    from hub.extensions import db

    grant = operations.break_glass(_user("police.supervisor"),
                                   db.session.get(Case, ready.params["case_id"]), REASON)
    ready.params["alert_id"] = db.session.scalar(select(Alert.id).where(
        Alert.key == f"break-glass:grant:{grant.id}"))


ISSUER = "https://sign-in.police.example.org"


def _provider(ready: Ready) -> None:
    from hub.extensions import db
    from hub.oidc import operations
    from hub.oidc.models import IdentityProvider

    row = IdentityProvider(slug="route-test", name="Route test sign-in", issuer=ISSUER,
                           client_id="hub", agency=db.session.scalar(
                               select(Agency).where(Agency.code == "police")),
                           role_claim="hub_role", role_map={"PC": "officer"},
                           acr_values=[], required_amr=[])
    operations.seal_secret(row, "a client secret")
    db.session.add(row)
    db.session.commit()
    ready.params["provider_id"] = row.id


def _deactivated(ready: Ready) -> None:
    """The user is deactivated first, so that reactivating them changes something."""
    from hub.admin import operations
    from hub.extensions import db

    operations.deactivate_user(db.session.get(User, ready.params["user_id"]), _user("admin"))


def _police_officer(ready: Ready) -> None:
    """A role change needs a kind with another role: police (nhs has one role only)."""
    ready.params["user_id"] = _user("police.officer").id


def _suspended(ready: Ready) -> None:
    from hub.admin import operations
    from hub.extensions import db

    operations.set_agency_active(db.session.get(Agency, ready.params["agency_id"]), False,
                                 _user("admin"))


def _erasure(ready: Ready) -> None:
    ready.body = {**ready.body, "confirm": ready.params["person_id"]}


# Sign-in steps: each needs a browser part-way through signing in, as a real user (demo
# users skip the code, and never have a temporary password).
def _awaiting_code(ready: Ready) -> None:
    from tests.support.factories import PASSWORD, code_for, make_user
    from tests.support.factories import sign_in as sign_in_with

    user = make_user("police", "officer")
    sign_in_with(ready.client, user.username, PASSWORD)
    if ready.body is not None:
        ready.body = {"code": code_for(user)}


def _enrolling(ready: Ready) -> None:
    """A first sign-in: the enrolment page shows a new seed, whose code is then posted."""
    from hub.accounts import operations
    from tests.support.factories import PASSWORD, code_for, make_user
    from tests.support.factories import sign_in as sign_in_with

    user = make_user("police", "officer", totp=False)
    sign_in_with(ready.client, user.username, PASSWORD)
    if ready.body is not None:
        assert ready.client.get("/sign-in/set-up-code").status_code == 200
        ready.body = {"code": code_for(operations.totp_seed(user))}


def _temporary_password(ready: Ready) -> None:
    from hub.admin import operations
    from tests.support.factories import sign_in as sign_in_with

    user, password = operations.create_local_user({
        "username": "route.newcomer", "display_name": "Route Newcomer", "agency": "police",
        "role": "officer", "area": "london"}, _user("admin"))
    sign_in_with(ready.client, user.username, password)


def _signed_in_browser(ready: Ready) -> None:
    sign_in(ready.client, "police.officer")


def _sso_started(ready: Ready) -> None:
    """A provider (a real one, on loopback) that the hub knows."""
    from hub.extensions import db
    from tests.oidc.conftest import add_provider

    provider = ready.request.getfixturevalue("sso_provider")
    add_provider(db.session, provider, "route-sso")
    provider.set_user("route.alice", hub_role="PC", amr=["pwd", "mfa"], name="Alice Route")
    ready.params["slug"] = "route-sso"
    return provider


def _sso_returning(ready: Ready) -> None:
    """The browser is back from the provider with a code: the provider's callback URL."""
    provider = _sso_started(ready)
    started = ready.client.post("/sign-in/sso/route-sso")
    assert started.status_code == 302, started.get_data(as_text=True)[:300]
    back = urlsplit(provider.authorize(started.location, "route.alice"))
    ready.query = dict(p.split("=", 1) for p in back.query.split("&"))


NEW_PASSWORD = "a new passphrase for the route test"
NOTE = {"body": "A note for the route test.", "class": "orders"}
PROVIDER_FORM = {"name": "Route test sign-in", "issuer": ISSUER, "client_id": "hub",
                 "client_secret": "a client secret", "agency": "police",
                 "role_claim": "hub_role", "role_map": "PC = officer", "active": "yes"}
PROVIDER_JSON = {"slug": "route-new", "name": "Route new sign-in",
                 "issuer": "https://sign-in.other.example.org", "client_id": "hub",
                 "client_secret": "a client secret", "agency": "police",
                 "role_claim": "hub_role", "role_map": {"PC": "officer"}}
EXEMPTION = {"class": "victim.support",
             "reason": "Disclosure would put the victim's refuge at risk"}
ALERT_CLOSE = {"outcome": "justified", "note": "Reviewed with the duty inspector."}
CASE = r"/cases/\d+"
# (endpoint, method) -> how access is decided. API routes take bearer tokens; the rest are
# pages for signed-in people.
ROUTES: dict[tuple[str, str], Access] = {
    # -- public ------------------------------------------------------------------------------
    ("static", "GET"): PUBLIC,
    ("govuk_assets.static", "GET"): PUBLIC,
    ("healthz", "GET"): PUBLIC,
    ("favicon", "GET"): PUBLIC,
    # a redirect to the case list, which is protected
    ("home", "GET"): public(user="police.officer", ok=302, to="/cases/"),
    ("accounts.sign_in", "GET"): PUBLIC,
    ("accounts.sign_in", "POST"): public(
        body={"username": "police.officer", "password": "demo-password-2026"}, ok=302, to="/"),
    # only for a session waiting for its code
    ("accounts.mfa", "GET"): public(prepare=_awaiting_code),
    ("accounts.mfa", "POST"): public(body={}, prepare=_awaiting_code, ok=302, to="/"),
    ("accounts.enrol", "GET"): public(prepare=_enrolling),  # likewise; 404 otherwise
    ("accounts.enrol", "POST"): public(body={}, prepare=_enrolling, ok=302, to="/"),
    ("accounts.sign_out", "POST"): public(prepare=_signed_in_browser, ok=302, to="/sign-in"),
    # only for a session signed in with a temporary password; a redirect otherwise
    ("accounts.choose_password", "GET"): public(prepare=_temporary_password),
    ("accounts.choose_password", "POST"): public(
        body={"new_password": NEW_PASSWORD}, prepare=_temporary_password, ok=303,
        to="/sign-in/set-up-code"),
    # -- your account: yours only, so any signed-in user ------------------------------------
    ("accounts.account", "GET"): SIGNED_IN,
    ("accounts.change_password", "GET"): SIGNED_IN,
    ("accounts.change_password", "POST"): Access(signed_in=True, body={
        "current_password": "demo-password-2026", "new_password": NEW_PASSWORD},
        ok=303, to="/account"),
    ("accounts.sessions", "GET"): SIGNED_IN,
    # someone else's session or token id is a 404 (tests/accounts/test_credentials.py)
    ("accounts.end_session", "POST"): Access(signed_in=True, prepare=_another_session,
                                             ok=303, to="/account/sessions"),
    ("accounts.end_token", "POST"): Access(signed_in=True, prepare=_own_token, ok=303,
                                           to="/account/sessions"),
    ("oidc.choose", "GET"): PUBLIC,
    ("oidc.begin", "POST"): public(prepare=_sso_started, ok=302, to="/oauth2/authorize"),
    ("oidc.callback", "GET"): public(prepare=_sso_returning, ok=302, to="/"),
    ("api.issue_token", "POST"): public(
        body={"username": "police.officer", "password": "demo-password-2026"}),
    ("api.openapi", "GET"): PUBLIC,
    # -- cases: API --------------------------------------------------------------------------
    ("api.list_cases", "GET"): perm("case:list"),
    ("api.create_case", "POST"): perm("case:create", body={
        "perpetrator": {"name": "Route Perp"}, "victims": [{"name": "Route Victim"}]}, ok=201),
    ("api.get_case", "GET"): Access(member=True),
    ("api.update_case", "PATCH"): Access(member=True, writes="case.core",
                                         body={"version": 1, "risk_level": "high"}),
    ("api.add_member", "POST"): perm("case:member:add", member=True,
                                     body={"agency": "police"}, ok=201),
    ("api.list_notes", "GET"): Access(member=True),
    ("api.add_note", "POST"): perm("entry:create", member=True, writes="orders", body=NOTE,
                                   ok=201),
    ("api.edit_note", "PUT"): Access(member=True, author_agency="police",
                                     body={"body": "Edited.", "version": 1}),
    ("api.break_glass", "POST"): perm("case:break-glass", body={"reason": REASON}),
    ("api.remove_member", "DELETE"): perm("case:member:add", member=True, ok=204),
    # -- cases: pages ------------------------------------------------------------------------
    ("cases.index", "GET"): perm("case:list"),
    ("cases.new", "GET"): perm("case:create"),
    ("cases.new", "POST"): perm("case:create", body={"perpetrator_name": "Route Perp",
                                                     "victim_name": "Route Victim"},
                                ok=302, to=CASE),
    ("cases.show", "GET"): Access(member=True),
    ("cases.new_entry", "GET"): perm("entry:create", member=True),
    ("cases.new_entry", "POST"): perm("entry:create", member=True, body=NOTE, ok=302,
                                      to=CASE),
    ("cases.add_member", "POST"): perm("case:member:add", member=True,
                                       body={"agency": "police"}, ok=302, to=CASE),
    ("cases.break_glass", "GET"): perm("case:break-glass"),
    ("cases.break_glass", "POST"): perm("case:break-glass", body={"reason": REASON}, ok=302,
                                        to=CASE),
    # the case team page and removals (issue 10): members whose role adds members
    ("cases.team", "GET"): perm("case:member:add", member=True),
    ("cases.remove_member", "GET"): perm("case:member:add", member=True),
    ("cases.remove_member", "POST"): perm("case:member:add", member=True, ok=302,
                                          to=CASE + "/team"),
    # break-glass by a typed reference: only a reasoned request resolves it
    ("cases.break_glass_by_reference", "GET"): perm("case:break-glass"),
    ("cases.break_glass_by_reference", "POST"): perm("case:break-glass", body={
        "reason": REASON, "reference": "STAC-LON-2026-00001"}, ok=302, to=CASE),
    # -- audit log and DPO: API --------------------------------------------------------------
    ("api.audit_events", "GET"): perm("audit:read"),
    ("api.audit_export", "GET"): perm("audit:read"),
    ("api.case_history", "GET"): perm("audit:read"),
    ("api.person_history", "GET"): perm("audit:read"),
    ("api.user_history", "GET"): perm("audit:read"),
    ("api.person_subject_access", "GET"): perm("subject-access:read"),
    ("api.person_exemption", "POST"): perm("subject-access:read", body=EXEMPTION, ok=201),
    ("api.person_erasure", "POST"): perm("retention:erase", body={"ground": "erasure-request"},
                                         prepare=_erasure, ok=201),
    ("api.retention_queue", "GET"): perm("retention:erase"),
    # Hashes and signatures only, for anyone who verifies the log: no personal data.
    ("api.audit_checkpoint", "GET"): Access(signed_in=True, prepare=_sequenced),
    ("api.audit_inclusion_proof", "GET"): Access(signed_in=True, prepare=_sequenced),
    ("api.audit_consistency_proof", "GET"): Access(signed_in=True, prepare=_two_sizes),
    ("api.alert_list", "GET"): perm("alert:review"),
    ("api.alert_show", "GET"): perm("alert:review", prepare=_alert),
    ("api.alert_close", "POST"): perm("alert:review", body=ALERT_CLOSE, prepare=_alert),
    # -- audit log, DPO and policy: pages ----------------------------------------------------
    ("audit.events", "GET"): perm("audit:read"),
    ("audit.export", "GET"): perm("audit:read"),
    ("audit.case_history", "GET"): perm("audit:read"),
    ("audit.person_history", "GET"): perm("audit:read"),
    ("audit.user_history", "GET"): perm("audit:read"),
    ("dpo.dashboard", "GET"): perm("audit:read"),
    ("dpo.alert_list", "GET"): perm("alert:review"),
    ("dpo.alert_show", "GET"): perm("alert:review", prepare=_alert),
    ("dpo.alert_close", "POST"): perm("alert:review", body=ALERT_CLOSE, prepare=_alert,
                                      ok=302, to="/dpo/alerts"),
    ("dpo.subject_access_page", "GET"): perm("subject-access:read"),
    ("dpo.exemption", "POST"): perm("subject-access:read", body=EXEMPTION, ok=302,
                                    to=r"/dpo/people/\d+/subject-access"),
    ("dpo.retention_queue", "GET"): perm("retention:erase"),
    ("dpo.erase", "POST"): perm("retention:erase", body={"ground": "erasure-request"},
                                prepare=_erasure, ok=302,
                                to=r"/dpo/people/\d+/subject-access"),
    ("policy.matrix", "GET"): perm("policy:read"),
    # -- administration: API and pages -------------------------------------------------------
    ("api.admin_users", "GET"): perm("admin:manage"),
    ("api.admin_user", "GET"): perm("admin:manage"),
    ("api.admin_update_user", "PATCH"): perm("admin:manage",
                                             body={"display_name": "Dr Priya Nandra-Route"}),
    ("api.admin_deactivate_user", "POST"): perm("admin:manage"),
    ("api.admin_reactivate_user", "POST"): perm("admin:manage", prepare=_deactivated),
    ("api.admin_create_user", "POST"): perm("admin:manage", body={
        "username": "route.api-user", "display_name": "Route Api User", "agency": "nhs",
        "role": "clinician", "area": "london"}, ok=201),
    ("api.admin_reset_sign_in", "POST"): perm("admin:manage"),
    ("api.admin_agencies", "GET"): perm("admin:manage"),
    ("api.admin_update_agency", "PATCH"): perm("admin:manage",
                                               body={"name": "NHS trust, renamed"}),
    ("api.admin_roles", "GET"): perm("admin:manage"),
    ("api.admin_providers", "GET"): perm("admin:manage"),
    ("api.admin_provider", "GET"): perm("admin:manage", prepare=_provider),
    ("api.admin_create_provider", "POST"): perm("admin:manage", body=PROVIDER_JSON, ok=201),
    ("api.admin_update_provider", "PATCH"): perm("admin:manage", body={"name": "Renamed"},
                                                 prepare=_provider),
    ("admin.index", "GET"): perm("admin:manage"),
    ("admin.users", "GET"): perm("admin:manage"),
    ("admin.user", "GET"): perm("admin:manage"),
    ("admin.set_role", "POST"): perm("admin:manage", body={"role": "analyst"},
                                     prepare=_police_officer, ok=303, to=r"/admin/users/\d+"),
    ("admin.deactivate", "POST"): perm("admin:manage", body={}, ok=303,
                                       to=r"/admin/users/\d+"),
    ("admin.reactivate", "POST"): perm("admin:manage", body={}, prepare=_deactivated, ok=303,
                                       to=r"/admin/users/\d+"),
    ("admin.new_user", "GET"): perm("admin:manage"),
    ("admin.new_user", "POST"): perm("admin:manage", body={
        "username": "route.page-user", "display_name": "Route Page User",
        "agency_role": "nhs:clinician", "area": "london"}),
    ("admin.reset_sign_in", "POST"): perm("admin:manage", body={}),
    ("admin.agencies", "GET"): perm("admin:manage"),
    ("admin.set_agency", "POST"): perm("admin:manage", body={"active": "yes"},
                                       prepare=_suspended, ok=303, to="/admin/agencies"),
    ("admin.roles", "GET"): perm("admin:manage"),
    ("admin.providers", "GET"): perm("admin:manage"),
    ("admin.new_provider", "GET"): perm("admin:manage"),
    ("admin.new_provider", "POST"): perm("admin:manage", body={
        **PROVIDER_FORM, "slug": "route-page"}, ok=303, to="/admin/identity-providers"),
    ("admin.edit_provider", "GET"): perm("admin:manage", prepare=_provider),
    ("admin.edit_provider", "POST"): perm("admin:manage", body=PROVIDER_FORM,
                                          prepare=_provider, ok=303,
                                          to="/admin/identity-providers"),
}

# Suspending an agency is confirmed on its own page first (the hub's own agency never).
ROUTES.update({
    ("admin.confirm_suspension", "GET"): perm("admin:manage"),
    ("admin.suspend_agency", "POST"): perm("admin:manage", body={"confirm": "yes"}, ok=303,
                                           to="/admin/agencies"),
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
        "version": "1", "status": "active", "risk_level": "high"}, ok=302, to=CASE),
    ("cases.edit_person", "GET"): Access(member=True, writes="victim.location"),
    ("cases.edit_person", "POST"): Access(member=True, writes="victim.location",
                                          body=CORRECTION, ok=302, to=CASE),
    ("api.update_person", "PATCH"): Access(member=True, writes="victim.location",
                                           body=CORRECTION),
})

# Areas and agencies as data an administrator manages (issue 11): administrators only.
AGENCY = {"code": "met-route", "name": "Second police force", "kind": "police",
          "area": "london"}
ROUTES.update({
    ("api.admin_areas", "GET"): perm("admin:manage"),
    ("api.admin_create_area", "POST"): perm("admin:manage",
                                            body={"code": "kent", "name": "Kent"}, ok=201),
    ("api.admin_area", "GET"): perm("admin:manage"),
    ("api.admin_update_area", "PATCH"): perm("admin:manage", body={"name": "Greater London"}),
    ("api.admin_create_agency", "POST"): perm("admin:manage", body=AGENCY, ok=201),
    ("api.admin_agency", "GET"): perm("admin:manage"),
    ("admin.areas", "GET"): perm("admin:manage"),
    ("admin.new_area", "GET"): perm("admin:manage"),
    ("admin.new_area", "POST"): perm("admin:manage", body={"code": "kent", "name": "Kent"},
                                     ok=303, to="/admin/areas"),
    ("admin.change_area", "GET"): perm("admin:manage"),
    ("admin.change_area", "POST"): perm("admin:manage", body={"name": "Greater London"},
                                        ok=303, to="/admin/areas"),
    ("admin.new_agency", "GET"): perm("admin:manage"),
    ("admin.new_agency", "POST"): perm("admin:manage", body=AGENCY, ok=303,
                                       to="/admin/agencies"),
    ("admin.change_agency", "GET"): perm("admin:manage"),
    ("admin.change_agency", "POST"): perm("admin:manage", body={
        "name": "NHS trust, renamed", "kind": "nhs", "area": ""}, ok=303,
        to="/admin/agencies"),
})

# Casework (issue 14): referral intake, the coordinator's screening, risk assessments. An
# S-DASH's answers are the victim's (victim.support): police and advocacy record them.
REFERRAL = {"source": "helpline", "consent_to_referral": True, "consent_to_contact": True,
            "relationship": "stranger", "victim": {"name": "Route Referred Victim"},
            "perpetrator": {"online_identifiers": ["@route_handle"]}}
SDASH = {"tool": "s-dash", "answers": {q: q == "frightened" for q in (
    "frightened", "previous_abuse", "property_damage", "turned_up", "followed",
    "threatened_violence", "third_parties", "violent_to_others", "engaged_others",
    "drugs_alcohol_mental_health", "abusive_to_others")}}


def _pending_referral(ready: Ready) -> None:
    """A referral waiting for screening, on the coordinator's team."""
    from hub.cases import casework

    referral = casework.create_referral(_user("police.officer"), dict(REFERRAL, area="london"))
    ready.params["referral_id"] = referral.id


def _matched_referral(ready: Ready) -> None:
    """A referral whose perpetrator has the first demo case's PNC ID: already known there."""
    from hub.cases import casework

    referral = casework.create_referral(_user("police.officer"), dict(
        REFERRAL, area="london", perpetrator={"name": "Route Known", "pnc_id": "2004/0112233X"}))
    ready.params["referral_id"] = referral.id
    ready.body = {"case_id": ready.params["case_id"]}


def _join_request(ready: Ready) -> None:
    """The coordinator, screening a matched referral, asks to join the first demo case."""
    from hub.cases import casework
    from hub.cases.models import Case, Referral
    from hub.extensions import db

    _matched_referral(ready)
    referral = db.session.get(Referral, ready.params["referral_id"])
    request = casework.ask_to_join(_user("coordinator"), referral.case,
                                   db.session.get(Case, ready.params["case_id"]))
    ready.params["request_id"] = request.id
    ready.body = {"decision": "approve"}


ROUTES.update({
    ("api.create_referral", "POST"): perm("case:create", body=REFERRAL, ok=201),
    ("api.referral_matches", "GET"): Access(permission="referral:screen", member=True),
    ("api.ask_to_join", "POST"): Access(permission="referral:screen", member=True,
                                        body={"case_id": 1}, prepare=_matched_referral,
                                        ok=201),
    ("api.decide_join", "POST"): Access(permission="case:member:add", member=True,
                                        body={"decision": "approve"}, prepare=_join_request),
    ("referrals.ask_to_join", "POST"): Access(
        permission="referral:screen", member=True, body={"case_id": "1"},
        prepare=_matched_referral, ok=302, to=r"/referrals/\d+"),
    ("cases.decide_join", "POST"): Access(
        permission="case:member:add", member=True, body={"decision": "approve"},
        prepare=_join_request, ok=302, to=CASE),
    ("api.screening_queue", "GET"): perm("referral:screen"),
    ("api.decide_referral", "POST"): Access(
        permission="referral:screen", member=True, writes="case.core",
        body={"decision": "accept"}, prepare=_pending_referral),
    ("api.risk_tools", "GET"): SIGNED_IN,
    ("api.add_risk_assessment", "POST"): Access(
        permission="entry:create", member=True, writes="victim.support", kind="risk_assessment",
        body=SDASH, ok=201),
    # the pages
    ("referrals.new", "GET"): perm("case:create"),
    ("referrals.new", "POST"): perm("case:create", body={
        "source": "helpline", "consent_to_referral": "yes", "consent_to_contact": "yes",
        "relationship": "stranger", "victim.name": "Route Referred Victim",
        "perpetrator.online_identifiers": "@route_handle"}, ok=302, to=CASE),
    ("referrals.queue", "GET"): perm("referral:screen"),
    ("referrals.screen", "GET"): Access(permission="referral:screen", member=True),
    ("referrals.screen", "POST"): Access(
        permission="referral:screen", member=True, writes="case.core",
        body={"decision": "accept"}, prepare=_pending_referral, ok=302, to=CASE),
    ("cases.assess", "GET"): Access(permission="entry:create", member=True),
    ("cases.assess", "POST"): Access(
        permission="entry:create", member=True, writes="victim.support", kind="risk_assessment",
        ok=302, to=CASE,
        body={"tool": "s-dash", **{f"answers.{q}": "yes" if v else "no"
                                   for q, v in SDASH["answers"].items()}}),
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
    if access.writes and access.writes not in WRITE.get(code, set()) and \
            access.kind not in PARTIAL_WRITE.get((code, access.writes), set()):
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
                "referral_id": db.session.scalar(select(Referral.id).where(
                    Referral.case_id == case.id)),
                "request_id": 1,  # none yet: refusals come before the request is looked up
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


def url_for_route(app, endpoint: str, params: dict, query: dict | None = None) -> str:
    rule = next(r for r in app.url_map.iter_rules() if r.endpoint == endpoint)
    values = {name: params[name] for name in rule.arguments if name != "filename"}
    if "filename" in rule.arguments:
        values["filename"] = STATIC_FILES[endpoint]
    with app.test_request_context():
        from flask import url_for

        return url_for(endpoint, **values, **(query or {}))


def call(app, client, auth, endpoint: str, method: str, user: str | None, params: dict,
         ready: Ready | None = None):
    """Make the route's request as ``user`` (a bearer token for the API, else a cookie);
    ``ready``: the intended user's request as the route's ``prepare`` completed it."""
    tokens, cookies = auth
    access = ROUTES[(endpoint, method)]
    ready = ready or Ready(params, access.body, access.query, user)
    url = url_for_route(app, endpoint, ready.params, ready.query)
    if is_api(endpoint):
        headers = tokens[user] if user else {}
        kwargs = {"json": ready.body} if ready.body is not None else {}
        return client.open(url, method=method, headers=headers, **kwargs)
    if user:
        client.set_cookie(app.config["SESSION_COOKIE_NAME"], cookies[user])
    kwargs = {"data": ready.body} if ready.body is not None else {}
    return client.open(url, method=method, **kwargs)


@pytest.fixture
def auth(tokens, cookies):
    return tokens, cookies


def test_every_route_is_in_the_table(app):
    served = {(r.endpoint, m) for r in app.url_map.iter_rules()
              for m in r.methods - {"HEAD", "OPTIONS"}}
    missing = sorted(served - set(ROUTES))
    assert not missing, f"routes with no access rule in tests/security/test_routes.py: {missing}"
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


def intended_user(endpoint: str, access: Access) -> str | None:
    if access.user or access.public:
        return access.user
    return allowed_user(endpoint, access)


def test_every_route_has_a_succeeding_request():
    """A 2xx, or a redirect to a named place; never a refusal passed off as a success."""
    for key, access in ROUTES.items():
        assert 200 <= access.ok < 300 or access.ok in (302, 303), key
        assert (access.to is not None) == (access.ok in (302, 303)), key


@pytest.fixture(scope="module")
def sso_provider():
    """A real OpenID provider on loopback, for the single sign-on routes' requests."""
    from tests.oidc.conftest import Provider

    provider = Provider()
    yield provider
    provider.stop()


@pytest.mark.parametrize(("endpoint", "method"), list(ROUTES),
                         ids=[f"{e}-{m}" for e, m in ROUTES])
def test_route_lets_its_intended_user_through(app, client, auth, params, request, endpoint,
                                              method):
    """The control for the denials: a request that succeeds, for someone allowed, gets
    exactly the answer the table names."""
    access = ROUTES[(endpoint, method)]
    user = intended_user(endpoint, access)
    ready = Ready(dict(params), access.body, access.query, user, client, request)
    if access.prepare is not None:
        access.prepare(ready)
    r = call(app, client, auth, endpoint, method, user, params, ready)
    body = r.get_data(as_text=True)
    r.close()  # a static file's handle
    assert r.status_code == access.ok, (user, r.status_code, r.location, body[:300])
    if access.to is not None:
        assert re.fullmatch(access.to, urlsplit(r.location).path), (user, r.location)
        assert not _error_flashes(client), (user, _error_flashes(client))
    assert "govuk-error-summary" not in body, (user, body[:300])


def _error_flashes(client) -> list[str]:
    """The problems a redirect carries to the next page (shown there as an error summary)."""
    with client.session_transaction() as flask_session:
        return [m for c, m in flask_session.get("_flashes", []) if c == "error"]


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
