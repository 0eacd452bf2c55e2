"""No case data leaves without its audit record, on any route, generated from the app.

The first test walks every GET route in ``app.url_map`` (so a new route is covered the
day it is added) as a caseworker, a DPO and an administrator: each route that shows case
data while the audit log works must answer 503, with none of it, when the log cannot be
written. The second and third show the guard in ``hub.disclosure``: a handler that builds
a body without recording it is refused, whatever it meant to send.
"""

from __future__ import annotations

import pytest
from flask import Response
from sqlalchemy import select

from hub import disclosure
from hub.accounts.models import Agency, Area, User
from hub.auditlog import writer
from hub.auditlog.writer import AuditUnavailable
from hub.cases.models import Case, Entry, Membership, Person, Referral
from hub.dpo.models import Alert
from hub.oidc.models import IdentityProvider
from tests.support.apps import DEMO_USERS
from tests.support.factories import sign_in

# What the demo's first case holds: none of it may appear in an unrecorded response.
CASE_DATA = ("Fenwick-Example", "Claire Example-Holt", "12 Example Road", "07700 900123",
             "claire.holt@example.org", "Ex-partner fixated",
             "vehicle tracker", "Safety plan agreed")
USERS = ("police.officer", "coordinator", "dpo", "admin")
NOT_CASE_ROUTES = {"static", "govuk_assets.static"}  # files shipped with the hub


def _ids(session) -> dict[str, object]:
    case = session.scalar(select(Case).where(Case.reference == "STAC-LON-2026-00001"))
    first = lambda model: session.scalar(select(model.id).order_by(model.id).limit(1))  # noqa: E731
    return {
        "case_id": case.id, "entry_id": first(Entry), "seq": 1, "username": "advocate",
        "person_id": session.scalar(select(Person.id).where(
            Person.name == "Claire Example-Holt")),
        "membership_id": session.scalar(select(Membership.id).where(
            Membership.case_id == case.id).order_by(Membership.id).limit(1)),
        "user_id": session.scalar(select(User.id).where(User.username == "police.officer")),
        "agency_id": first(Agency), "area_id": first(Area), "alert_id": first(Alert) or 1,
        "provider_id": first(IdentityProvider) or 1,
        "referral_id": session.scalar(select(Referral.id).where(Referral.case_id == case.id)),
    }


def _paths(app, ids: dict) -> list[tuple[str, str]]:
    paths = []
    for rule in app.url_map.iter_rules():
        if "GET" not in rule.methods or rule.endpoint in NOT_CASE_ROUTES:
            continue
        missing = set(rule.arguments) - set(ids)
        assert not missing, f"{rule.rule}: give this test an id for {missing}"
        paths.append((rule.endpoint, rule.build({a: ids[a] for a in rule.arguments})[1]))
    return paths


def _shown(body: str) -> list[str]:
    return [marker for marker in CASE_DATA if marker in body]


@pytest.mark.parametrize("username", USERS)
def test_every_route_that_shows_case_data_fails_closed_without_its_record(
        app, client, tokens, session, monkeypatch, username):
    assert set(USERS) <= set(DEMO_USERS)
    sign_in(client, username)
    showing = []
    for endpoint, path in _paths(app, _ids(session)):
        headers = tokens[username] if path.startswith("/api/") else {}
        working = client.get(path, headers=headers)
        if not _shown(working.get_data(as_text=True)):
            continue
        showing.append(endpoint)
        with monkeypatch.context() as patched:
            patched.setattr(writer, "record", _log_unwritable)
            broken = client.get(path, headers=headers)
        body = broken.get_data(as_text=True)
        assert (broken.status_code, _shown(body)) == (503, []), (path, body[:300])
    if username == "admin":  # DOMAIN rule 8: administrators see no case content at all
        assert showing == []
    else:
        assert showing, "the walk reached no route with case data: the ids are wrong"


def _log_unwritable(*_args, **_kwargs):
    raise AuditUnavailable


def test_a_handler_that_skips_the_record_is_refused(app):
    with app.test_request_context("/cases/1"):
        out = disclosure.Disclosure()
        out.add("victim.location")  # a builder put a victim's address in a body...
        response = disclosure.refuse_unrecorded(Response("Flat 3, 12 Example Road"))
    assert response.status_code == 500  # ...and nobody recorded it: nothing is sent
    assert response.get_data() == b""


def test_a_recorded_or_withdrawn_disclosure_lets_the_response_go(app):
    with app.test_request_context("/cases/1"):
        sent, dropped = disclosure.Disclosure(), disclosure.Disclosure()
        sent.add("case.core")
        dropped.add("victim.location")
        sent.recorded = True
        dropped.withdraw()
        response = disclosure.refuse_unrecorded(Response("STAC-LON-2026-00001"))
    assert (response.status_code, response.get_data()) == (200, b"STAC-LON-2026-00001")
