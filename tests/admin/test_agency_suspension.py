"""Suspending an agency signs all its staff out at once, so it is never one click: the hub's
own agency (whose users are the administrators and DPOs) cannot be suspended at all, and
every other suspension is confirmed on a page that says how many people it signs out."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from hub.accounts.models import Agency, User
from hub.admin import operations
from hub.auditlog.models import AuditEvent
from tests.support.factories import sign_in


def agency(session, code: str) -> Agency:
    return session.scalar(select(Agency).where(Agency.code == code))


def last_event(session) -> AuditEvent:
    return session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()


def test_the_api_refuses_to_suspend_the_hub_agency(api, session):
    hub = agency(session, "hub")
    r = api("admin").patch(f"/admin/agencies/{hub.id}", json={"active": False})
    assert r.status_code == 403, r.json
    assert "administrators and data protection officers" in r.json["error"]["message"]
    session.refresh(hub)
    assert hub.active
    event = last_event(session)
    assert (event.action, event.outcome) == ("admin:agency:suspend", "denied")
    assert api("dpo").get("/audit/events").status_code == 200  # nobody was signed out


def test_no_one_can_suspend_the_hub_agency_whoever_asks(app, session):
    """The rule is about the agency, not about who asks (here, someone of another agency)."""
    officer = session.scalar(select(User).where(User.username == "police.officer"))
    with app.test_request_context(), pytest.raises(operations.AdminError) as refused:
        operations.set_agency_active(agency(session, "hub"), False, officer)
    assert refused.value.status == 403
    assert agency(session, "hub").active


def test_the_pages_refuse_to_suspend_the_hub_agency(client, session):
    hub = agency(session, "hub")
    sign_in(client, "admin")
    listing = client.get("/admin/agencies").text
    row = listing.split(f"{hub.name} (hub)", 1)[1].split("</tr>", 1)[0]
    assert "Suspend" not in row and "cannot be suspended" in row
    for answer in (client.get(f"/admin/agencies/{hub.id}/suspend"),
                   client.post(f"/admin/agencies/{hub.id}/suspend", data={"confirm": "yes"})):
        assert answer.status_code == 403
        assert "cannot be suspended" in answer.text
    session.refresh(hub)
    assert hub.active


def test_suspension_asks_for_confirmation_naming_who_is_signed_out(client, session):
    nhs = agency(session, "nhs")
    staff = session.scalar(select(func.count(User.id)).where(User.agency_id == nhs.id,
                                                              User.active.is_(True)))
    sign_in(client, "admin")
    listing = client.get("/admin/agencies").text
    assert f'href="/admin/agencies/{nhs.id}/suspend"' in listing  # a link, not a one-click form
    page = client.get(f"/admin/agencies/{nhs.id}/suspend")
    assert page.status_code == 200
    assert f"Are you sure you want to suspend {nhs.name}?" in page.text
    assert f"Its {staff} user{'' if staff == 1 else 's'} will be signed out" in page.text
    session.refresh(nhs)
    assert nhs.active  # asking changed nothing


def test_the_old_one_click_form_no_longer_suspends(client, session):
    nhs = agency(session, "nhs")
    sign_in(client, "admin")
    r = client.post(f"/admin/agencies/{nhs.id}", data={"active": ""})
    assert r.status_code == 303 and r.location.endswith(f"/admin/agencies/{nhs.id}/suspend")
    session.refresh(nhs)
    assert nhs.active


def test_a_confirmed_suspension_signs_the_staff_out(client, api, session):
    nhs = agency(session, "nhs")
    sign_in(client, "admin")
    unconfirmed = client.post(f"/admin/agencies/{nhs.id}/suspend", data={})
    assert unconfirmed.status_code == 400
    assert "govuk-error-summary" in unconfirmed.text
    session.refresh(nhs)
    assert nhs.active
    kept = client.post(f"/admin/agencies/{nhs.id}/suspend", data={"confirm": "no"})
    assert kept.status_code == 303 and kept.location.endswith("/admin/agencies")
    session.refresh(nhs)
    assert nhs.active
    done = client.post(f"/admin/agencies/{nhs.id}/suspend", data={"confirm": "yes"})
    assert done.status_code == 303 and done.location.endswith("/admin/agencies")
    session.refresh(nhs)
    assert not nhs.active
    assert api("nhs.clinician").get("/cases").status_code == 401
    assert f"{nhs.name} is suspended" in client.get("/admin/agencies").text
    back = client.post(f"/admin/agencies/{nhs.id}", data={"active": "yes"})
    assert back.status_code == 303
    session.refresh(nhs)
    assert nhs.active  # reactivating signs nobody out, so it needs no confirmation


@pytest.mark.parametrize("active", [0, "false", "no", None, "off"])
def test_the_api_suspends_only_on_a_json_false(api, session, active):
    nhs = agency(session, "nhs")
    r = api("admin").patch(f"/admin/agencies/{nhs.id}", json={"active": active})
    assert r.status_code == 400 and r.json["error"]["field"] == "active"
    session.refresh(nhs)
    assert nhs.active
