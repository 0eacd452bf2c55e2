"""Recording an exemption on the subject access page: the class is withheld from the
person's bundle, with the reason, and the step is audited."""

from __future__ import annotations

from sqlalchemy import select

from hub.cases.models import Person
from tests.support.factories import events_since, last_seq

REASON = "Disclosure would prejudice an ongoing investigation (DPA 2018 Sch 2)."


def _claire(session) -> Person:
    return session.scalar(select(Person).where(Person.name == "Claire Example-Holt"))


def test_an_exemption_recorded_on_the_page_withholds_the_class(web, api, session):
    person = _claire(session)
    bundle = api("dpo").get(f"/people/{person.id}/subject-access").get_json()
    assert "Flat 3, 12 Example Road" in str(bundle["data"])
    before = last_seq()

    client = web("dpo")
    response = client.post(f"/dpo/people/{person.id}/exemptions",
                           data={"class": "victim.location", "reason": REASON})

    assert response.status_code == 302
    page = client.get(response.headers["Location"]).text
    assert "Exemption recorded" in page and REASON in page
    after = api("dpo").get(f"/people/{person.id}/subject-access").get_json()
    assert [(x["class"], x["reason"]) for x in after["exemptions"]] == [
        ("victim.location", REASON)]
    assert "Flat 3, 12 Example Road" not in str(after["data"])
    recorded = events_since(before, "subject-access:exemption")
    assert [(e.subject_ids, e.details["class"]) for e in recorded] == [
        ([person.id], "victim.location")]


def test_an_exemption_without_a_reason_is_refused_on_the_page(web, api, session):
    person = _claire(session)
    before = last_seq()

    response = web("dpo").post(f"/dpo/people/{person.id}/exemptions",
                               data={"class": "victim.location", "reason": ""})

    assert response.status_code == 400
    assert "There is a problem" in response.text
    assert api("dpo").get(f"/people/{person.id}/subject-access").get_json()["exemptions"] == []
    assert events_since(before, "subject-access:exemption") == []
