"""Administration: administrators only, everything audited, no case content, and
deactivation that takes effect at once."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from hub.accounts.models import Agency, User
from hub.auditlog.models import AuditEvent
from tests.support.apps import DEMO_USERS
from tests.support.factories import sign_in

NOT_ADMINS = [u for u in DEMO_USERS if u != "admin"]
API_ROUTES = [("get", "/admin/users"), ("get", "/admin/users/1"),
              ("patch", "/admin/users/1"), ("post", "/admin/users/1/deactivate"),
              ("post", "/admin/users/1/reactivate"), ("get", "/admin/agencies"),
              ("patch", "/admin/agencies/1"), ("get", "/admin/roles"),
              ("get", "/admin/identity-providers"), ("post", "/admin/identity-providers"),
              ("get", "/admin/identity-providers/1"), ("patch", "/admin/identity-providers/1"),
              ("post", "/admin/users"), ("post", "/admin/users/1/reset-sign-in")]
PAGES = ["/admin/", "/admin/users", "/admin/users/1", "/admin/agencies", "/admin/roles",
         "/admin/identity-providers", "/admin/identity-providers/new", "/admin/users/new"]
# Words from the demo cases that must never appear on an admin page or in an admin answer.
CASE_WORDS = ["Fenwick", "Example Road", "Testwell", "harassment convictions", "0ZZ"]


def user_id(session, username: str) -> int:
    return session.scalar(select(User.id).where(User.username == username))


@pytest.mark.parametrize("username", NOT_ADMINS)
@pytest.mark.parametrize(("method", "path"), API_ROUTES)
def test_api_refuses_everyone_but_administrators(api, session, username, method, path):
    r = getattr(api(username), method)(path, json={"active": False, "role": "admin"})
    assert r.status_code == 403, (username, path, r.json)
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert (event.outcome, event.username) == ("denied", username)


@pytest.mark.parametrize(("method", "path"), API_ROUTES)
def test_api_without_a_token_is_401(api, session, method, path):
    assert getattr(api(None), method)(path, json={}).status_code == 401


@pytest.mark.parametrize("username", ["police.officer", "dpo"])
def test_pages_refuse_everyone_but_administrators(client, session, username):
    sign_in(client, username)
    for page in PAGES:
        assert client.get(page).status_code == 403, page


def test_pages_for_administrators_show_no_case_content(client, session):
    sign_in(client, "admin")
    for page in PAGES:
        r = client.get(page)
        assert r.status_code == 200, page
        assert r.headers["Cache-Control"] == "no-store"
        assert not [w for w in CASE_WORDS if w in r.text], page


def test_api_answers_show_no_case_content_or_secrets(api, session):
    admin = api("admin")
    for path in ["/admin/users", "/admin/users/1", "/admin/agencies", "/admin/roles",
                 "/admin/identity-providers"]:
        r = admin.get(path)
        assert r.status_code == 200, path
        assert not [w for w in CASE_WORDS if w in r.text]
        assert "password" not in r.text and "totp" not in r.text and "secret" not in r.text


def test_reads_are_audited(api, session):
    api("admin").get("/admin/users")
    event = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()
    assert (event.action, event.username, event.outcome) == ("admin:user:list", "admin",
                                                              "allowed")


def test_deactivation_stops_tokens_and_sessions_at_once(api, app, session):
    officer = app.test_client()
    sign_in(officer, "police.officer")
    assert officer.get("/cases/").status_code == 200
    assert api("police.officer").get("/cases").status_code == 200
    r = api("admin").post(f"/admin/users/{user_id(session, 'police.officer')}/deactivate")
    assert r.status_code == 200 and r.json["active"] is False
    assert api("police.officer").get("/cases").status_code == 401
    assert officer.get("/cases/").status_code == 302  # back to the sign-in page
    assert session.scalars(select(AuditEvent.action).where(
        AuditEvent.action == "admin:user:deactivate")).first()


def test_deactivation_through_the_page(client, api, session):
    sign_in(client, "admin")
    target = user_id(session, "nhs.clinician")
    r = client.post(f"/admin/users/{target}/deactivate")
    assert r.status_code == 303
    assert api("nhs.clinician").get("/cases").status_code == 401


def test_administrator_cannot_deactivate_themself(api, session):
    r = api("admin").post(f"/admin/users/{user_id(session, 'admin')}/deactivate")
    assert r.status_code == 409


def test_role_change_is_checked_against_the_policy(api, session):
    target = user_id(session, "police.officer")
    assert api("admin").patch(f"/admin/users/{target}", json={"role": "admin"}).status_code \
        == 400  # admin is a hub role, not a police one
    r = api("admin").patch(f"/admin/users/{target}", json={"role": "analyst"})
    assert r.status_code == 200 and r.json["role"] == "analyst"
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "admin:user:update").order_by(AuditEvent.seq.desc())).first()
    assert event.details["role"] == ["officer", "analyst"]


@pytest.mark.parametrize("body", [{}, {"role": ""}, {"agency": "nhs"}, {"role": 5},
                                  {"display_name": "x" * 500}, {"active": True}])
def test_bad_user_changes_are_400(api, session, body):
    target = user_id(session, "police.officer")
    assert api("admin").patch(f"/admin/users/{target}", json=body).status_code == 400


def test_suspending_an_agency_stops_its_staff(api, session):
    nhs = session.scalar(select(Agency.id).where(Agency.code == "nhs"))
    assert api("admin").patch(f"/admin/agencies/{nhs}", json={"active": False}).status_code \
        == 200
    assert api("nhs.clinician").get("/cases").status_code == 401
    assert api("police.officer").get("/cases").status_code == 200


PROVIDER = {"slug": "met", "name": "Met sign-in", "issuer": "https://login.met.example",
            "client_id": "hub", "client_secret": "s3cret-value", "agency": "police",
            "role_claim": "roles", "role_map": {"PC": "officer"}, "required_amr": ["mfa"]}


def test_provider_is_created_with_its_secret_sealed(api, session):
    from hub.oidc.models import IdentityProvider

    r = api("admin").post("/admin/identity-providers", json=PROVIDER)
    assert r.status_code == 201, r.json
    assert "s3cret-value" not in r.text and "client_secret" not in r.json
    row = session.get(IdentityProvider, r.json["id"])
    assert "s3cret-value" not in row.client_secret_ct
    event = session.scalars(select(AuditEvent).where(
        AuditEvent.action == "admin:idp:create")).first()
    assert "s3cret-value" not in str(event.details)
    r = api("admin").patch(f"/admin/identity-providers/{row.id}", json={"active": False})
    assert r.status_code == 200 and r.json["active"] is False


@pytest.mark.parametrize("change", [
    {"issuer": "http://login.met.example"}, {"role_map": {"PC": "clinician"}},
    {"agency": "nowhere"}, {"slug": "Bad Slug"}, {"role_map": {}}, {"extra": 1},
    {"client_secret": ""}])
def test_bad_providers_are_400(api, session, change):
    r = api("admin").post("/admin/identity-providers", json={**PROVIDER, **change})
    assert r.status_code == 400, r.json
    assert r.json["error"]["field"]


def test_duplicate_slug_or_issuer_is_409(api, session):
    """Valid input that clashes with what exists, as a username in use is."""
    assert api("admin").post("/admin/identity-providers", json=PROVIDER).status_code == 201
    again = api("admin").post("/admin/identity-providers", json=PROVIDER)
    assert again.status_code == 409 and again.json["error"]["field"] == "slug"
    other = api("admin").post("/admin/identity-providers", json={**PROVIDER, "slug": "met2"})
    assert other.status_code == 409 and other.json["error"]["field"] == "issuer"


def test_provider_form_page(client, session):
    sign_in(client, "admin")
    form = {**PROVIDER, "role_map": "PC = officer\nSGT = supervisor", "required_amr": "mfa",
            "acr_values": "", "active": "yes"}
    r = client.post("/admin/identity-providers/new", data=form)
    assert r.status_code == 303, r.text
    page = client.get("/admin/identity-providers")
    assert "Met sign-in" in page.text and "s3cret" not in page.text
    bad = client.post("/admin/identity-providers/new", data={**form, "slug": "x2",
                                                             "issuer": "ftp://x"})
    assert bad.status_code == 400
