"""An administrator's everyday changes to a user, through the pages and the API, each
checked by what the user can then do and by the audit event it leaves."""

from __future__ import annotations

from hub.accounts.security import DEMO_PASSWORD
from tests.support.factories import events_since, last_seq, sign_in
from tests.support.factories import user_named as _user


def _token(client, username: str) -> int:
    response = client.post("/api/v1/auth/token",
                           json={"username": username, "password": DEMO_PASSWORD})
    return response.status_code


def test_reactivating_on_the_page_lets_the_user_sign_in_again(client, session):
    target = _user("probation.officer")
    sign_in(client, "admin")
    assert client.post(f"/admin/users/{target.id}/deactivate").status_code == 303
    assert _token(client, "probation.officer") == 401
    before = last_seq()

    response = client.post(f"/admin/users/{target.id}/reactivate")

    assert response.status_code == 303
    assert "can sign in again" in client.get(response.headers["Location"]).text
    assert _user("probation.officer").active
    assert _token(client, "probation.officer") == 200
    assert [e.details for e in events_since(before, "admin:user:reactivate")] == [
        {"target_user_id": target.id}]


def test_reactivating_through_the_api(api, session):
    target = _user("cps.prosecutor")
    assert api("admin").post(f"/admin/users/{target.id}/deactivate").status_code == 200
    before = last_seq()

    response = api("admin").post(f"/admin/users/{target.id}/reactivate")

    assert response.status_code == 200
    assert response.get_json()["active"] is True
    assert _user("cps.prosecutor").active
    assert [e.details for e in events_since(before, "admin:user:reactivate")] == [
        {"target_user_id": target.id}]


def test_reactivating_is_for_administrators_only(api, session):
    target = _user("cps.prosecutor")
    assert api("dpo").post(f"/admin/users/{target.id}/reactivate").status_code == 403


def test_changing_a_role_on_the_page(client, session):
    target = _user("police.officer")
    sign_in(client, "admin")
    before = last_seq()

    response = client.post(f"/admin/users/{target.id}/role", data={"role": "analyst"})

    assert response.status_code == 303
    assert "police.officer is now analyst" in client.get(response.headers["Location"]).text
    assert _user("police.officer").role == "analyst"
    assert len(events_since(before, "admin:user:update")) == 1


def test_a_role_the_agency_does_not_have_is_refused_on_the_page(client, session):
    target = _user("police.officer")
    sign_in(client, "admin")
    before = last_seq()

    response = client.post(f"/admin/users/{target.id}/role", data={"role": "clinician"})

    assert response.status_code == 303
    assert "There is a problem" in client.get(response.headers["Location"]).text
    assert _user("police.officer").role == "officer"
    assert events_since(before, "admin:user:update") == []
