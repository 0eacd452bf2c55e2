"""The DPO's web pages: they work, refuse everyone else, show record metadata but never
case content (except the subject access bundle, whose purpose is to show it), and draw
their charts as server-rendered SVG without scripts or inline styles."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from hub.auditlog.models import AuditEvent
from hub.dpo.models import Alert
from hub.seed import CASES, ENTRIES
from tests.dpo.conftest import NON_DPO, case_ids
from tests.support.factories import events_since, last_seq

# Case content. People's names are not in it: a name is record metadata a DPO needs to say
# whose access history a page shows (rule 8), as the subject access bundle does.
MARKERS = sorted({e[3] for e in ENTRIES} | {c["summary"] for c in CASES}
                 | {v[k] for c in CASES for v in c["victims"] for k in v if k != "name"}
                 | {str(v) for c in CASES for k, v in c["perpetrator"].items()
                    if k not in ("name", "aliases", "date_of_birth")})


def _alert_id(api, session) -> int:
    ids = case_ids(api, "advocate")
    new = api("advocate").post("/cases", json={"perpetrator": {"name": "Zed Pagecase"},
                                               "victims": [{"name": "Yara Pagecase"}]}).json
    api("police.supervisor").post(f"/cases/{new['id']}/break-glass",
                                  json={"reason": "Checking a linked incident log"})
    api("police.supervisor").get(f"/cases/{new['id']}")
    for case_id in ids:
        api("police.officer").get(f"/cases/{case_id}")
        api("nhs.clinician").get(f"/cases/{case_id}/notes")
    return session.scalar(select(func.max(Alert.id)))


def _dpo_pages(alert_id: int) -> list[str]:
    return ["/audit/", "/audit/?agency=police&per_page=500", "/audit/export.csv",
            "/audit/cases/1", "/audit/people/1", "/audit/people/2", "/audit/users/advocate",
            "/dpo/", "/dpo/alerts", "/dpo/alerts?status=all", f"/dpo/alerts/{alert_id}",
            "/dpo/retention"]


def _dpo_api(alert_id: int) -> list[str]:
    return ["/audit/events?per_page=500", "/audit/events.csv", "/audit/cases/1/history",
            "/audit/people/1/history", "/audit/users/police.officer/history", "/dpo/alerts",
            f"/dpo/alerts/{alert_id}", "/dpo/retention/queue"]


def test_no_dpo_route_shows_case_content(api, web, session):
    alert_id = _alert_id(api, session)
    client = web("dpo")
    for path in _dpo_pages(alert_id):
        page = client.get(path)
        assert page.status_code == 200, path
        leaked = [m for m in MARKERS if m in page.text]
        assert leaked == [], f"{path} shows case content: {leaked}"
    for path in _dpo_api(alert_id):
        response = api("dpo").get(path)
        assert response.status_code == 200, path
        assert [m for m in MARKERS if m in response.text] == [], path


def test_the_bundle_page_is_the_exception_and_is_audited(api, web, session):
    case = api("police.officer").get(f"/cases/{case_ids(api)[0]}").json
    victim = case["victims"][0]
    client = web("dpo")
    seq = last_seq()
    page = client.get(f"/dpo/people/{victim['id']}/subject-access")
    assert page.status_code == 200
    assert victim["name"] in page.text and victim["address"] in page.text  # the control
    assert 'id="disclosures"' in page.text
    [event] = events_since(seq)
    assert (event.action, event.subject_ids) == ("subject-access:read", [victim["id"]])


@pytest.mark.parametrize("username", NON_DPO)
@pytest.mark.parametrize("path", ["/audit/", "/audit/export.csv", "/audit/cases/1",
                                  "/audit/users/dpo", "/dpo/", "/dpo/alerts",
                                  "/dpo/people/1/subject-access", "/dpo/retention"])
def test_pages_refuse_everyone_but_the_dpo(web, session, username, path):
    page = web(username).get(path)
    assert page.status_code == 403
    assert "Audit log" not in page.text.split("<main", 1)[-1]


def test_bad_page_input_is_a_400(web, session):
    client = web("dpo")
    assert client.get("/audit/?since=soon").status_code == 400
    assert client.get("/audit/export.csv?outcome=perhaps").status_code == 400
    assert client.get("/audit/cases/1?until=13/13/2026").status_code == 400
    assert client.get("/dpo/alerts?status=lost").status_code == 400
    assert client.get("/audit/users/" + "u" * 65).status_code == 400


def test_dashboard_draws_svg_charts_without_scripts_or_styles(api, web, session):
    _alert_id(api, session)
    page = web("dpo").get("/dpo/")
    assert page.status_code == 200
    assert page.text.count("<svg") == 3
    assert " style=" not in page.text and "<style" not in page.text
    assert not re.search(r"<script(?![^>]*\bsrc=)", page.text)  # no inline script
    assert "default-src 'self'" in page.headers["Content-Security-Policy"]
    glass = session.scalar(select(func.count()).where(
        AuditEvent.action == "case:break-glass", AuditEvent.outcome == "allowed"))
    table = page.text.split('id="bg-table"', 1)[1].split("</table>", 1)[0]
    assert sum(int(n) for n in re.findall(r"numeric\">(\d+)</td>", table)) == glass
    open_alerts = session.scalar(select(func.count(Alert.id)).where(Alert.status == "open"))
    assert f"{open_alerts} open alert" in page.text


def test_closing_an_alert_on_the_page(api, web, session):
    alert_id = _alert_id(api, session)
    client = web("dpo")
    page = client.get(f"/dpo/alerts/{alert_id}")
    assert 'id="alert-events"' in page.text and "case:break-glass" in page.text
    empty = client.post(f"/dpo/alerts/{alert_id}", data={})
    assert empty.status_code == 400  # the summary lists both fields, in GOV.UK words
    assert all(f'href="#{field}">{message}</a>' in empty.text for field, message in (
        ("outcome", "Choose the outcome of your review"),
        ("note", "Enter a note about your review")))
    assert client.post(f"/dpo/alerts/{alert_id}", data={"outcome": "justified"}).status_code \
        == 400
    done = client.post(f"/dpo/alerts/{alert_id}",
                       data={"outcome": "unjustified", "note": "No 999 call on record."})
    assert done.status_code == 302
    alert = session.get(Alert, alert_id)
    assert (alert.status, alert.outcome, alert.note) == (
        "closed", "unjustified", "No 999 call on record.")


def test_history_page_and_erasure_form(api, web, session):
    ids = case_ids(api)
    api("nhs.clinician").get(f"/cases/{ids[0]}")
    client = web("dpo")
    page = client.get(f"/audit/cases/{ids[0]}")
    assert page.status_code == 200 and "nhs.clinician" in page.text
    victim = api("police.officer").get(f"/cases/{ids[0]}").json["victims"][0]["id"]
    wrong = client.post(f"/dpo/people/{victim}/erase", data={"ground": "retention",
                                                              "confirm": "1" + str(victim)})
    assert wrong.status_code == 400
    done = client.post(f"/dpo/people/{victim}/erase", data={"ground": "retention",
                                                             "confirm": str(victim)})
    assert done.status_code == 302
    page = client.get(f"/dpo/people/{victim}/subject-access")
    assert 'id="erasures"' in page.text
