"""Issue 10, defect 3: an entry's kind must fit its class, or it reaches the wrong people.

The note page offers only the kind/class pairs of policies/kinds.yaml, in plain words,
each naming the agencies that will read it under the case's area policy; the API refuses
a mismatch with 400 naming the field; a plain note may still be filed as any class that
its author may write (CONTRACT's note route)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from hub.cases import operations, queries
from hub.cases.models import Case, Entry
from hub.extensions import db
from hub.policy import Principal, Relationship, current_policy
from tests.support.apps import DEMO_USERS
from tests.support.factories import (
    events_since,
    last_seq,
    page_text,
    sign_in,
    text_by_id,
    user_named,
)
from tests.support.matrix import demo_cases


def html(response) -> str:
    return response.get_data(as_text=True)


def choices(markup: str) -> dict[str, str]:
    """The note page's kind/class choices: value -> the id of its radio."""
    found = {}
    for tag in re.findall(r"<input[^>]*name=\"type\"[^>]*>", markup):
        found[re.search(r'value="([^"]*)"', tag).group(1)] = re.search(r'id="([^"]*)"',
                                                                        tag).group(1)
    return found


def label(markup: str, input_id: str) -> str:
    return " ".join(re.search(rf'<label[^>]*for="{input_id}"[^>]*>(.*?)</label>', markup,
                              re.S).group(1).split())


def entry_count() -> int:
    return db.session.scalar(select(func.count(Entry.id)))


# -- the API ----------------------------------------------------------------------------------
@pytest.mark.parametrize(("username", "info_class", "kind"), [
    ("advocate", "case.core", "safety_plan"),  # a safety plan NHS and probation would read
    ("police.officer", "orders", "safety_plan"),
    ("police.officer", "intelligence", "order"),
    ("nhs.clinician", "clinical.summary", "legal_advice"),
])
def test_the_api_refuses_a_kind_filed_as_a_class_it_may_not_take(api, session, username,
                                                                   info_class, kind):
    case_id = demo_cases(session)[0].id
    before, seq = entry_count(), last_seq()
    refused = api(username).post(f"/cases/{case_id}/notes", json={
        "body": "Panic alarm fitted; code word agreed.", "class": info_class, "kind": kind})
    assert refused.status_code == 400, refused.json
    assert refused.json["error"]["field"] == "kind"
    assert info_class in refused.json["error"]["message"]
    assert entry_count() == before and events_since(seq, "entry:") == []


def test_a_kind_filed_as_a_class_it_may_take_is_accepted(api, session):
    case_id = demo_cases(session)[0].id
    done = api("advocate").post(f"/cases/{case_id}/notes", json={
        "body": "Panic alarm fitted.", "class": "victim.support", "kind": "safety_plan"})
    assert done.status_code == 201, done.json
    assert (done.json["kind"], done.json["class"]) == ("safety_plan", "victim.support")


def test_every_class_stays_writable_as_a_plain_note_by_whoever_may_write_it(api, session):
    """CONTRACT: POST /cases/{id}/notes {body, class} with no kind writes a note."""
    case = session.get(Case, demo_cases(session)[0].id)
    written = set()
    for username in DEMO_USERS:
        user = user_named(username)
        decision = queries.decide(Principal.of(user), case)  # nothing for non-members
        for info_class in sorted(decision.write):
            done = api(username).post(f"/cases/{case.id}/notes", json={
                "body": f"A plain note by {username}.", "class": info_class})
            assert done.status_code == 201, (username, info_class, done.json)
            assert done.json["kind"] == "note"
            written.add(info_class)
    assert written == set(current_policy().classes)


def test_editing_an_entry_whose_kind_does_not_fit_its_class_is_refused(api, session):
    """An entry written before kinds.yaml (a safety plan filed as orders) is not extended."""
    case = session.get(Case, demo_cases(session)[0].id)
    author = user_named("police.officer")
    entry = Entry(case_id=case.id, kind="safety_plan", info_class="orders", author=author,
                  author_agency_id=author.agency_id)
    session.add(entry)
    session.flush()
    operations.write_version(case, entry, author, "Old safety plan filed as orders.")
    session.commit()
    refused = api("police.officer").put(f"/cases/{case.id}/notes/{entry.id}",
                                        json={"body": "Updated safety plan.", "version": 1})
    assert refused.status_code == 400, refused.json
    assert refused.json["error"]["field"] == "kind"
    session.expire_all()
    assert session.get(Entry, entry.id).version == 1


def test_kind_and_class_are_checked_before_anything_else_is_written(api, session):
    case_id = demo_cases(session)[0].id
    refused = api("police.officer").post(f"/cases/{case_id}/notes", json={
        "body": "x", "class": "orders", "kind": "no-such-kind"})
    assert refused.status_code == 400 and refused.json["error"]["field"] == "kind"


# -- the page ---------------------------------------------------------------------------------
@pytest.mark.parametrize("username", ["police.officer", "nhs.clinician", "probation.officer",
                                      "cps.prosecutor", "advocate"])
def test_the_page_offers_exactly_the_allowed_pairs_of_writable_classes(client, session,
                                                                       username):
    case = session.get(Case, demo_cases(session)[0].id)
    decision = current_policy().case_decision(Principal.of(user_named(username)),
                                              case.area.code, Relationship.MEMBER, case.status)
    sign_in(client, username)
    page = client.get(f"/cases/{case.id}/notes/new")
    assert page.status_code == 200
    offered = set(choices(html(page)))
    policy = current_policy()
    # A risk assessment is recorded with its tool (tests/cases/test_risk_assessments.py).
    assert offered == {f"{k}:{c}" for c in decision.write for k in policy.set.kinds
                       if policy.may_file(k, c) and k != "risk_assessment"}
    assert "safety_plan:orders" not in offered and "safety_plan:case.core" not in offered


def test_choices_are_in_plain_words_and_name_their_readers(client, session):
    case_id = demo_cases(session)[0].id
    sign_in(client, "advocate")
    markup = html(client.get(f"/cases/{case_id}/notes/new"))
    found = choices(markup)
    plan = found["safety_plan:victim.support"]
    assert label(markup, plan) == "Victim support and safety planning: safety plan"
    assert text_by_id(markup, f"{plan}-item-hint") == \
        "Police and Advocacy service will see this."
    note = found["note:victim.support"]
    assert text_by_id(markup, f"{note}-item-hint") == "Advocacy service will see this."
    core = found["note:case.core"]
    assert label(markup, core) == "Case details: note"
    assert text_by_id(markup, f"{core}-item-hint") == \
        "Police, NHS, Probation, CPS and Advocacy service will see this."
    assert "victim.support" not in page_text(markup)  # codes stay out of the words


def test_readers_follow_the_area_policy(client, session):
    """Hampshire keeps the clinical summary from probation: its page says so."""
    hampshire = next(c for c in demo_cases(session) if c.area == "hampshire")
    london = demo_cases(session)[0]
    sign_in(client, "nhs.clinician")
    hints = {}
    for case in (london, hampshire):
        markup = html(client.get(f"/cases/{case.id}/notes/new"))
        hints[case.area] = text_by_id(markup, choices(markup)["note:clinical.summary"] +
                                      "-item-hint")
    assert hints == {"london": "Police, NHS and Probation will see this.",
                     "hampshire": "Police and NHS will see this."}


def test_the_page_warns_what_perpetrator_facing_workers_read(client, session):
    case_id = demo_cases(session)[0].id
    sign_in(client, "police.officer")
    warning = text_by_id(html(client.get(f"/cases/{case_id}/notes/new")), "perpetrator-facing")
    assert "Warning NHS and Probation work with the perpetrator." in warning
    for words in ("Case details", "Orders and breaches", "Offending history"):
        assert words in warning
    assert "Police intelligence" not in warning  # police only
    assert "address" in warning
    sign_in(client, "nhs.clinician")
    warning = text_by_id(html(client.get(f"/cases/{case_id}/notes/new")), "perpetrator-facing")
    assert "Clinical summary" in warning


def test_a_mismatched_pair_posted_to_the_page_is_an_error_on_the_field(client, session):
    case_id = demo_cases(session)[0].id
    sign_in(client, "advocate")
    before, seq = entry_count(), last_seq()
    refused = client.post(f"/cases/{case_id}/notes/new",
                          data={"type": "safety_plan:case.core", "body": "Panic alarm fitted."})
    assert refused.status_code == 400
    markup = html(refused)
    assert 'href="#type"' in markup  # the error summary links to the choices
    assert "Case details" in text_by_id(markup, "type-error")
    assert entry_count() == before and events_since(seq, "entry:") == []


def test_the_page_files_the_pair_chosen(client, session):
    case_id = demo_cases(session)[0].id
    sign_in(client, "advocate")
    done = client.post(f"/cases/{case_id}/notes/new",
                       data={"type": "safety_plan:victim.support", "body": "Plan reviewed."})
    assert done.status_code == 302
    entry = db.session.scalar(select(Entry).order_by(Entry.id.desc()).limit(1))
    assert (entry.kind, entry.info_class) == ("safety_plan", "victim.support")


def test_nothing_chosen_is_an_error_in_plain_words(client, session):
    case_id = demo_cases(session)[0].id
    sign_in(client, "advocate")
    refused = client.post(f"/cases/{case_id}/notes/new", data={"body": "x"})
    assert refused.status_code == 400
    assert text_by_id(html(refused), "type-error") == "Error: Select what you are recording"
