"""Areas and agencies are data an administrator manages, on the pages, through the API and
with `hub` commands, every change audited. An agency has a kind from policies/roles.yaml,
and the policy decides what each kind may see, so a new agency works the moment it is
created; membership of a case team stays with the agency itself. Whether an agency's staff
do casework is a property of its kind, not of the name "hub"."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import func, select

from hub.accounts import operations as accounts
from hub.accounts.models import Agency, Area, User
from hub.auditlog.models import AuditEvent
from tests.support.apps import demo_case_ids
from tests.support.factories import (
    events_since,
    last_seq,
    links,
    make_user,
    page_text,
    sign_in,
    text_by_id,
)

AREA = {"code": "cheshire", "name": "Cheshire"}
AGENCY = {"code": "met-police-2", "name": "Metropolitan Police (north)", "kind": "police"}
FIRST, HAMPSHIRE = "STAC-LON-2026-00001", "STAC-HAM-2026-00004"


def create(api, what: str, **body) -> dict:
    r = api("admin").post(f"/admin/{what}", json=body)
    assert r.status_code == 201, r.json
    return r.json


def bearer(app, user: User) -> dict:
    with app.test_request_context():
        token, _ttl = accounts.issue_token(user)
    return {"Authorization": f"Bearer {token}"}


def staff(app, api, agency: dict, role: str, area: str | None = "london"):
    """A user of a newly created agency, and the JSON API as them."""
    user = make_user(agency=agency["code"], role=role, area=area)
    headers = bearer(app, user)

    class As:
        def __getattr__(self, method):
            return lambda path, **kw: getattr(api(None), method)(path, headers=headers, **kw)

    return user, As()


def last_event(session) -> AuditEvent:
    return session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc())).first()


def case_id(session, reference: str) -> int:
    return demo_case_ids(session)[reference]


def new_case(api, by: str = "police.officer", area: str = "london") -> int:
    created = api(by).post("/cases", json={
        "area": area, "perpetrator": {"name": "Perry Agencytest"},
        "victims": [{"name": "Vera Agencytest", "address": "3 Agencytest Road, ZZ1 0ZZ"}]})
    assert created.status_code == 201, created.json
    return created.json["id"]


def rows(session, model) -> int:
    return session.scalar(select(func.count()).select_from(model))


# -- the API -----------------------------------------------------------------------------------
def test_an_administrator_creates_an_area_and_an_agency_in_it(api, session):
    seq = last_seq()
    area = create(api, "areas", **AREA)
    assert {k: area[k] for k in ("code", "name", "has_policy")} == {
        "code": "cheshire", "name": "Cheshire", "has_policy": False}  # no areas/cheshire.yaml
    agency = create(api, "agencies", **AGENCY, area="cheshire")
    assert {k: agency[k] for k in ("code", "name", "kind", "area", "active", "casework")} == {
        **AGENCY, "area": "cheshire", "active": True, "casework": True}
    created = events_since(seq, "admin:")
    assert [(e.action, e.username, e.outcome) for e in created] == [
        ("admin:area:create", "admin", "allowed"), ("admin:agency:create", "admin", "allowed")]
    assert created[0].details == {"area_id": area["id"], "area": "cheshire"}
    assert created[1].details == {"agency_id": agency["id"], "agency": "met-police-2",
                                  "kind": "police", "area": "cheshire"}
    listed = api("admin").get("/admin/areas").json["items"]
    policies = {a["code"]: a["has_policy"] for a in listed}
    assert policies == {"london": True, "hampshire": True, "cheshire": False}
    assert api("admin").get(f"/admin/agencies/{agency['id']}").json == agency
    assert last_event(session).action == "admin:agency:read"


BAD = [
    ("post", "/admin/areas", {"code": "Cheshire", "name": "Cheshire"}, "code"),
    ("post", "/admin/areas", {"code": "ches hire", "name": "Cheshire"}, "code"),
    ("post", "/admin/areas", {"code": "-cheshire", "name": "Cheshire"}, "code"),
    ("post", "/admin/areas", {"code": "c" * 33, "name": "Cheshire"}, "code"),
    ("post", "/admin/areas", {"code": "cheshire"}, "name"),
    ("post", "/admin/areas", {"code": "cheshire", "name": ""}, "name"),
    ("post", "/admin/areas", {"code": "cheshire", "name": "C", "colour": "red"}, "colour"),
    ("post", "/admin/agencies", {**AGENCY, "code": "Met_Police"}, "code"),
    ("post", "/admin/agencies", {**AGENCY, "code": 7}, "code"),
    ("post", "/admin/agencies", {**AGENCY, "kind": "constabulary"}, "kind"),
    ("post", "/admin/agencies", {**AGENCY, "kind": 5}, "kind"),
    ("post", "/admin/agencies", {"code": "met-police-2", "name": "Met"}, "kind"),
    ("post", "/admin/agencies", {**AGENCY, "area": "atlantis"}, "area"),
    ("post", "/admin/agencies", {**AGENCY, "name": "x" * 121}, "name"),
    ("patch", "/admin/agencies/{police}", {}, "body"),
    ("patch", "/admin/agencies/{police}", {"code": "police-2"}, "code"),
    ("patch", "/admin/agencies/{police}", {"kind": "nope"}, "kind"),
    ("patch", "/admin/agencies/{police}", {"area": "atlantis"}, "area"),
    ("patch", "/admin/agencies/{police}", {"name": ""}, "name"),
    ("patch", "/admin/areas/{london}", {}, "body"),
    ("patch", "/admin/areas/{london}", {"code": "greater-london"}, "code"),
    ("patch", "/admin/areas/{london}", {"name": ""}, "name"),
]


@pytest.mark.parametrize(("method", "path", "body", "field"), BAD)
def test_bad_input_is_400_naming_the_field_and_changes_nothing(api, session, method, path,
                                                               body, field):
    ids = {"police": session.scalar(select(Agency.id).where(Agency.code == "police")),
           "london": session.scalar(select(Area.id).where(Area.code == "london"))}
    before = (rows(session, Agency), rows(session, Area))
    r = getattr(api("admin"), method)(path.format(**ids), json=body)
    assert r.status_code == 400, r.json
    assert r.json["error"]["field"] == field, r.json
    assert (rows(session, Agency), rows(session, Area)) == before
    police = session.get(Agency, ids["police"])
    session.refresh(police)
    assert (police.name, police.kind, police.area_id) == ("Metropolitan Police Service",
                                                          "police", None)
    assert session.get(Area, ids["london"]).name == "London"


@pytest.mark.parametrize(("what", "body"), [("areas", {"code": "london", "name": "Again"}),
                                            ("agencies", {**AGENCY, "code": "police"})])
def test_a_code_in_use_is_a_409_naming_the_field_and_changes_nothing(api, session, what,
                                                                     body):
    before = (rows(session, Agency), rows(session, Area))
    r = api("admin").post(f"/admin/{what}", json=body)
    assert r.status_code == 409 and r.json["error"]["field"] == "code", r.json
    assert "already exists" in r.json["error"]["message"]
    assert (rows(session, Agency), rows(session, Area)) == before


ROUTES = [("get", "/admin/areas"), ("post", "/admin/areas"), ("get", "/admin/areas/1"),
          ("patch", "/admin/areas/1"), ("post", "/admin/agencies"),
          ("get", "/admin/agencies/1")]


@pytest.mark.parametrize("username", ["police.officer", "dpo", "nhs.clinician"])
@pytest.mark.parametrize(("method", "path"), ROUTES)
def test_the_api_refuses_non_administrators_on_the_record(api, session, username, method,
                                                         path):
    before = (rows(session, Agency), rows(session, Area))
    r = getattr(api(username), method)(path, json={**AGENCY, "name": "Sneaky"})
    assert r.status_code == 403, r.json
    event = last_event(session)
    assert (event.outcome, event.username, event.action) == ("denied", username,
                                                             "admin:manage")
    assert (rows(session, Agency), rows(session, Area)) == before


def test_edits_are_audited_naming_what_changed(api, session):
    area = create(api, "areas", **AREA)
    agency = create(api, "agencies", **AGENCY)
    seq = last_seq()
    r = api("admin").patch(f"/admin/areas/{area['id']}", json={"name": "Cheshire East"})
    assert r.status_code == 200 and r.json["name"] == "Cheshire East"
    r = api("admin").patch(f"/admin/agencies/{agency['id']}",
                           json={"name": "Met (north)", "area": "cheshire"})
    assert r.status_code == 200 and (r.json["name"], r.json["area"]) == ("Met (north)",
                                                                         "cheshire")
    r = api("admin").patch(f"/admin/agencies/{agency['id']}", json={"area": None})
    assert r.status_code == 200 and r.json["area"] is None  # serves every area again
    assert [(e.action, e.details) for e in events_since(seq, "admin:")] == [
        ("admin:area:update", {"area_id": area["id"], "area": "cheshire", "fields": ["name"]}),
        ("admin:agency:update", {"agency_id": agency["id"], "agency": "met-police-2",
                                 "fields": ["area", "name"], "area": [None, "cheshire"]}),
        ("admin:agency:update", {"agency_id": agency["id"], "agency": "met-police-2",
                                 "fields": ["area"], "area": ["cheshire", None]})]


def test_a_kind_can_be_corrected_only_until_the_agency_has_staff(app, api, session):
    agency = create(api, "agencies", **AGENCY)
    path = f"/admin/agencies/{agency['id']}"
    r = api("admin").patch(path, json={"kind": "nhs"})
    assert r.status_code == 200 and r.json["kind"] == "nhs"
    assert last_event(session).details["kind"] == ["police", "nhs"]
    make_user(agency="met-police-2", role="clinician")
    r = api("admin").patch(path, json={"kind": "police"})
    assert r.status_code == 409 and r.json["error"]["field"] == "kind"
    assert session.get(Agency, agency["id"]).kind == "nhs"


def test_the_existing_suspension_still_answers_on_the_same_route(api, session):
    nhs = session.scalar(select(Agency).where(Agency.code == "nhs"))
    r = api("admin").patch(f"/admin/agencies/{nhs.id}", json={"active": False})
    assert r.status_code == 200 and r.json["active"] is False
    assert last_event(session).action == "admin:agency:suspend"


# -- a new agency works the moment it is created -----------------------------------------------
def test_a_new_police_kind_agency_does_what_police_do_on_cases_it_is_on(app, api, session):
    agency = create(api, "agencies", **AGENCY, area="london")
    officer, met = staff(app, api, agency, "officer")
    case = case_id(session, FIRST)
    assert met.get(f"/cases/{case}").status_code == 404  # not on the team yet
    assert case not in [c["id"] for c in met.get("/cases").json["items"]]
    added = api("police.officer").post(f"/cases/{case}/members", json={"agency": "met-police-2"})
    assert added.status_code == 201, added.json
    theirs, police = met.get(f"/cases/{case}").json, api("police.officer").get(
        f"/cases/{case}").json
    assert theirs["withheld"] == police["withheld"]
    assert theirs["victims"] == police["victims"]  # the victim's address too, as police
    assert theirs["perpetrator"] == police["perpetrator"]
    assert "Flat 3, 12 Example Road" in str(theirs["victims"])
    assert case in [c["id"] for c in met.get("/cases").json["items"]]
    note = met.post(f"/cases/{case}/notes", json={"body": "Seen near the address.",
                                                 "class": "intelligence", "kind": "intelligence"})
    assert note.status_code == 201, note.json
    referred = met.post("/cases", json={"perpetrator": {"name": "Perry Agencytest"},
                                       "victims": [{"name": "Vera Agencytest"}]})
    assert referred.status_code == 201, referred.json  # police may refer a case
    event = last_event(session)
    assert (event.username, event.agency, event.action) == (officer.username, "met-police-2",
                                                            "case:create")


def test_a_new_police_kind_agency_reads_notes_narrowed_to_police(app, api, session):
    agency = create(api, "agencies", **AGENCY)
    _officer, met = staff(app, api, agency, "officer")
    case = case_id(session, FIRST)
    api("police.officer").post(f"/cases/{case}/members", json={"agency": "met-police-2"})
    narrowed = api("police.officer").post(f"/cases/{case}/notes", json={
        "body": "Police-only: a second covert note.", "class": "intelligence",
        "restricted_to": ["police"]})
    assert narrowed.status_code == 201
    theirs = {n["id"] for n in met.get(f"/cases/{case}/notes").json["items"]}
    assert theirs == {n["id"] for n in api("police.officer").get(
        f"/cases/{case}/notes").json["items"]}
    assert narrowed.json["id"] in theirs


def test_team_membership_is_by_the_agency_itself_not_its_kind(app, api, session):
    agency = create(api, "agencies", **AGENCY)
    _officer, met = staff(app, api, agency, "officer")
    case = new_case(api)
    added = api("police.officer").post(f"/cases/{case}/members", json={"agency": "police"})
    assert added.status_code == 201
    assert met.get(f"/cases/{case}").status_code == 404  # the demo police, not this agency
    assert api("outsider.officer").get(f"/cases/{case}").status_code == 200


def test_a_new_nhs_kind_agency_never_sees_a_victims_address(app, api, session):
    agency = create(api, "agencies", code="nhs-north", name="North London NHS", kind="nhs")
    _clinician, nhs = staff(app, api, agency, "clinician")
    case = case_id(session, FIRST)
    assert api("police.officer").post(f"/cases/{case}/members",
                                      json={"agency": "nhs-north"}).status_code == 201
    body = nhs.get(f"/cases/{case}")
    assert body.status_code == 200
    assert body.json["withheld"] == api("nhs.clinician").get(f"/cases/{case}").json["withheld"]
    assert "victim.location" in body.json["withheld"]
    assert "Example Road" not in body.text and "07700 900123" not in body.text


def test_an_agency_with_an_area_serves_only_that_area(app, api, session):
    agency = create(api, "agencies", **AGENCY, area="london")
    supervisor, met = staff(app, api, agency, "supervisor", area=None)
    hampshire, london = case_id(session, HAMPSHIRE), new_case(api)
    refused = api("police.officer").post(f"/cases/{hampshire}/members",
                                         json={"agency": "met-police-2"})
    assert refused.status_code == 400 and refused.json["error"]["field"] == "agency"
    refused = api("police.officer").post(f"/cases/{hampshire}/members",
                                         json={"username": supervisor.username})
    assert refused.status_code == 400 and refused.json["error"]["field"] == "username"
    reason = {"reason": "Victim unreachable; risk to life"}
    assert met.post(f"/cases/{hampshire}/break-glass", json=reason).status_code == 404
    assert met.post(f"/cases/{london}/break-glass", json=reason).status_code == 200
    elsewhere = met.post("/cases", json={"area": "hampshire", "perpetrator": {"name": "P"},
                                         "victims": [{"name": "V"}]})
    assert elsewhere.status_code == 400 and elsewhere.json["error"]["field"] == "area"


def test_staff_of_an_agency_with_an_area_take_its_area(api, session):
    create(api, "agencies", **AGENCY, area="london")
    user = {"username": "met.two", "display_name": "PC Two", "agency": "met-police-2",
            "role": "officer"}
    r = api("admin").post("/admin/users", json={**user, "area": "hampshire"})
    assert r.status_code == 400 and r.json["error"]["field"] == "area"
    assert api("admin").post("/admin/users", json=user).status_code == 201
    assert session.scalar(select(User).where(User.username == "met.two")).area.code == "london"


def test_an_agency_on_a_team_elsewhere_cannot_be_tied_to_one_area(api, session):
    agency = create(api, "agencies", **AGENCY)
    hampshire = case_id(session, HAMPSHIRE)
    assert api("police.officer").post(f"/cases/{hampshire}/members",
                                      json={"agency": "met-police-2"}).status_code == 201
    r = api("admin").patch(f"/admin/agencies/{agency['id']}", json={"area": "london"})
    assert r.status_code == 409 and r.json["error"]["field"] == "area"
    assert "Hampshire" in r.json["error"]["message"] or "1 case" in r.json["error"]["message"]
    assert session.get(Agency, agency["id"]).area_id is None


def test_tying_an_agency_to_an_area_moves_its_staff_there(app, api, session):
    agency = create(api, "agencies", **AGENCY)
    user, _met = staff(app, api, agency, "officer", area="hampshire")
    r = api("admin").patch(f"/admin/agencies/{agency['id']}", json={"area": "london"})
    assert r.status_code == 200, r.json
    session.refresh(user)
    assert user.area.code == "london"
    assert last_event(session).details["staff_moved"] == 1


# -- casework is a property of the kind --------------------------------------------------------
def test_a_second_agency_that_does_no_casework_is_kept_off_case_teams(app, api, session):
    agency = create(api, "agencies", code="hub-north", name="Hub staff (north)", kind="hub")
    assert agency["casework"] is False
    dpo, _as_dpo = staff(app, api, agency, "dpo", area=None)
    case = case_id(session, FIRST)
    police = api("police.officer")
    by_agency = police.post(f"/cases/{case}/members", json={"agency": "hub-north"})
    assert by_agency.status_code == 400 and by_agency.json["error"]["field"] == "agency"
    by_name = police.post(f"/cases/{case}/members", json={"username": dpo.username})
    assert by_name.status_code == 400 and by_name.json["error"]["field"] == "username"
    narrowed = police.post(f"/cases/{case}/notes", json={
        "body": "For hub staff only.", "class": "intelligence", "restricted_to": ["hub"]})
    assert narrowed.status_code == 400 and narrowed.json["error"]["field"] == "restricted_to"


def test_no_agency_of_a_kind_without_casework_can_be_suspended(api, session):
    hub_north = create(api, "agencies", code="hub-north", name="Hub staff (north)", kind="hub")
    met = create(api, "agencies", **AGENCY)
    r = api("admin").patch(f"/admin/agencies/{hub_north['id']}", json={"active": False})
    assert r.status_code == 403 and r.json["error"]["field"] == "active"
    event = last_event(session)
    assert (event.action, event.outcome) == ("admin:agency:suspend", "denied")
    r = api("admin").patch(f"/admin/agencies/{met['id']}", json={"active": False})
    assert r.status_code == 200 and r.json["active"] is False


def test_the_team_page_offers_new_casework_agencies_and_no_others(api, client, session):
    create(api, "agencies", **AGENCY)
    create(api, "agencies", code="hub-north", name="Hub staff (north)", kind="hub")
    sign_in(client, "police.officer")
    page = client.get(f"/cases/{new_case(api)}/team").get_data(as_text=True)
    offered = re.search(r'<select[^>]*name="agency".*?</select>', page, re.S).group(0)
    assert 'value="met-police-2"' in offered
    assert 'value="hub-north"' not in offered and 'value="hub"' not in offered


# -- the pages ---------------------------------------------------------------------------------
def html(response) -> str:
    return response.get_data(as_text=True)


def summary_links(markup: str) -> list[str]:
    summary = re.search(r'<div class="govuk-error-summary".*?</ul>', markup, re.S)
    return links(summary.group(0), "^#") if summary else []


def test_an_administrator_creates_and_renames_an_area_on_the_pages(client, session):
    sign_in(client, "admin")
    assert client.get("/admin/areas/new").status_code == 200
    refused = client.post("/admin/areas/new", data={"code": "Ches Hire", "name": ""})
    assert refused.status_code == 400
    assert summary_links(html(refused)) == ["#code", "#name"]
    assert text_by_id(html(refused), "code-error") == \
        "Error: Enter a code of lower-case letters, digits and hyphens, like north-wales"
    assert text_by_id(html(refused), "name-error") == "Error: Enter the area's name"
    assert page_text(html(refused)).startswith("Error: Add an area")
    seq = last_seq()
    done = client.post("/admin/areas/new", data={"code": "cheshire", "name": "Cheshire"})
    assert done.status_code == 303 and done.location.endswith("/admin/areas")
    listing = client.get("/admin/areas")
    assert "Cheshire has been added." in page_text(html(listing))
    row = text_by_id(html(listing), "area-cheshire")
    assert "Cheshire" in row and "No area policy" in row
    assert "policies/areas/london.yaml" in text_by_id(html(listing), "area-london")
    area = session.scalar(select(Area).where(Area.code == "cheshire"))
    again = client.post("/admin/areas/new", data={"code": "cheshire", "name": "Twice"})
    assert again.status_code == 400
    assert text_by_id(html(again), "code-error") == "Error: An area with this code already exists"
    renamed = client.post(f"/admin/areas/{area.id}", data={"name": "Cheshire East"})
    assert renamed.status_code == 303
    assert [e.action for e in events_since(seq, "admin:area:")][-3:] == [
        "admin:area:create", "admin:area:list", "admin:area:update"]
    session.refresh(area)
    assert area.name == "Cheshire East"


def test_an_administrator_adds_and_changes_an_agency_on_the_pages(client, session):
    sign_in(client, "admin")
    form = client.get("/admin/agencies/new")
    assert form.status_code == 200
    for label in ("Police", "NHS", "Probation", "CPS", "Advocacy service"):
        assert label in page_text(html(form))
    assert 'value="hub"' in html(form)  # the hub's own staff are a kind too
    refused = client.post("/admin/agencies/new", data={"code": "", "name": "", "area": ""})
    assert refused.status_code == 400
    assert summary_links(html(refused)) == ["#code", "#name", "#kind"]
    assert text_by_id(html(refused), "kind-error") == "Error: Select the kind of agency"
    done = client.post("/admin/agencies/new", data={**AGENCY, "area": "london"})
    assert done.status_code == 303 and done.location.endswith("/admin/agencies")
    listing = html(client.get("/admin/agencies"))
    assert "Metropolitan Police (north) has been added." in page_text(listing)
    agency = session.scalar(select(Agency).where(Agency.code == "met-police-2"))
    row = text_by_id(listing, f"agency-{agency.code}")
    assert "Police" in row and "London" in row and "Active" in row
    change = client.get(f"/admin/agencies/{agency.id}/change")
    assert change.status_code == 200
    assert 'value="Metropolitan Police (north)"' in html(change)
    bad = client.post(f"/admin/agencies/{agency.id}/change",
                      data={"name": "Met (north)", "kind": "police", "area": "atlantis"})
    assert bad.status_code == 400 and summary_links(html(bad)) == ["#area"]
    saved = client.post(f"/admin/agencies/{agency.id}/change",
                        data={"name": "Met (north)", "kind": "police", "area": ""})
    assert saved.status_code == 303
    session.refresh(agency)
    assert (agency.name, agency.area_id) == ("Met (north)", None)
    assert last_event(session).action == "admin:agency:update"


def test_the_hubs_own_staff_are_shown_as_not_suspendable_by_kind(api, client, session):
    create(api, "agencies", code="hub-north", name="Hub staff (north)", kind="hub")
    sign_in(client, "admin")
    listing = html(client.get("/admin/agencies"))
    for code in ("hub", "hub-north"):
        row = text_by_id(listing, f"agency-{code}")
        assert "cannot be suspended" in row and "Suspend" not in row.replace(
            "cannot be suspended", "")


NEW_PAGES = ["/admin/areas", "/admin/areas/new", "/admin/areas/1", "/admin/agencies/new",
             "/admin/agencies/1/change"]


@pytest.mark.parametrize("username", ["police.officer", "dpo"])
def test_the_pages_refuse_non_administrators_on_the_record(client, session, username):
    sign_in(client, username)
    for path in NEW_PAGES:
        seq = last_seq()
        assert client.get(path).status_code == 403, path
        assert [(e.outcome, e.username) for e in events_since(seq)] == [("denied", username)]
    before = rows(session, Area)
    assert client.post("/admin/areas/new", data=AREA).status_code == 403
    assert rows(session, Area) == before


def test_the_new_user_page_offers_a_new_agency_with_its_kinds_roles(api, client, session):
    create(api, "agencies", **AGENCY)
    sign_in(client, "admin")
    page = html(client.get("/admin/users/new"))
    for role in ("officer", "supervisor", "analyst"):
        assert f'value="met-police-2:{role}"' in page
    assert 'value="met-police-2:clinician"' not in page


# -- the `hub` commands ------------------------------------------------------------------------
def hub(app, *args: str):
    return app.test_cli_runner().invoke(args=list(args))


def test_hub_commands_create_edit_and_list_areas_and_agencies(app, session):
    seq = last_seq()
    made = hub(app, "area", "create", "cheshire", "Cheshire")
    assert made.exit_code == 0, made.output
    assert "area cheshire created" in made.output
    made = hub(app, "agency", "create", "met-police-2", "Met (north)", "--kind", "police",
               "--area", "cheshire")
    assert made.exit_code == 0, made.output
    edited = hub(app, "agency", "edit", "met-police-2", "--name", "Met North", "--every-area")
    assert edited.exit_code == 0, edited.output
    assert hub(app, "area", "edit", "cheshire", "--name", "Cheshire East").exit_code == 0
    listing = hub(app, "agency", "list").output
    assert re.search(r"met-police-2\s+police\s+every area\s+active\s+Met North", listing)
    assert re.search(r"hub\s+hub\s+every area\s+active\s+STAC Hub", listing)
    assert re.search(r"cheshire\s+no area policy\s+Cheshire East", hub(app, "area", "list").output)
    events = events_since(seq, "admin:")
    assert [(e.action, e.username, e.user_agent) for e in events] == [
        ("admin:area:create", None, "hub-cli"), ("admin:agency:create", None, "hub-cli"),
        ("admin:agency:update", None, "hub-cli"), ("admin:area:update", None, "hub-cli")]
    agency = session.scalar(select(Agency).where(Agency.code == "met-police-2"))
    assert (agency.name, agency.kind, agency.area_id) == ("Met North", "police", None)


@pytest.mark.parametrize(("args", "field"), [
    (("area", "create", "Ches Hire", "Cheshire"), "code"),
    (("area", "create", "london", "London again"), "code"),
    (("agency", "create", "met-police-2", "Met", "--kind", "constabulary"), "kind"),
    (("agency", "create", "met-police-2", "Met", "--kind", "police", "--area", "atlantis"),
     "area"),
    (("agency", "edit", "no-such-agency", "--name", "X"), "code"),
    (("agency", "edit", "police"), "body"),
])
def test_hub_commands_refuse_bad_input_naming_the_field(app, session, args, field):
    before = (rows(session, Agency), rows(session, Area))
    result = hub(app, *args)
    assert result.exit_code != 0
    assert f"Error: {field}: " in result.output, result.output
    assert "Traceback" not in result.output
    assert (rows(session, Agency), rows(session, Area)) == before


# -- the OpenAPI description -------------------------------------------------------------------
def test_the_openapi_description_names_new_agencies_by_code_and_the_policy_by_kind(api,
                                                                                   session):
    create(api, "agencies", **AGENCY)
    create(api, "agencies", code="hub-north", name="Hub staff (north)", kind="hub")
    spec = api(None).get("/openapi.json").json
    schemas, paths = spec["components"]["schemas"], spec["paths"]
    met = next(v for v in schemas["UserCreateIn"]["anyOf"]
               if v["properties"]["agency"]["enum"] == ["met-police-2"])
    assert set(met["properties"]["role"]["enum"]) == {"officer", "supervisor", "analyst",
                                                      "coordinator"}
    members = schemas["MemberIn"]["properties"]["agency"]["enum"]
    assert "met-police-2" in members and not {"hub", "hub-north"} & set(members)
    assert schemas["EntryIn"]["properties"]["restricted_to"]["items"]["enum"] == sorted(
        ["police", "nhs", "probation", "cps", "advocacy"])  # kinds, as narrowing names them
    assert schemas["AgencyIn"]["properties"]["kind"]["enum"] == sorted(
        ["police", "nhs", "probation", "cps", "advocacy", "hub"])
    assert None in schemas["AgencyUpdateIn"]["properties"]["area"]["enum"]
    assert schemas["AreaIn"]["properties"]["code"]["pattern"] == "^[a-z0-9][a-z0-9-]{0,31}$"
    for path, methods in [("/admin/areas", {"get", "post"}),
                          ("/admin/areas/{area_id}", {"get", "patch"}),
                          ("/admin/agencies", {"get", "post"}),
                          ("/admin/agencies/{agency_id}", {"get", "patch"})]:
        assert methods <= set(paths[path]), path
    assert "kind" in paths["/admin/agencies/{agency_id}"]["patch"]["responses"]["200"][
        "description"]


# -- what other pages make of a new agency ------------------------------------------------------
def test_the_dpo_can_filter_the_audit_log_by_a_new_agency_by_name(api, client, session):
    create(api, "agencies", **AGENCY)
    sign_in(client, "dpo")
    page = client.get("/audit/").get_data(as_text=True)
    assert '<option value="met-police-2"' in page
    assert "Metropolitan Police (north)" in page


def test_the_team_page_offers_only_agencies_that_serve_the_case_area(api, client, session):
    hampshire_only = create(api, "agencies", code="hants-advocacy", name="Hampshire Advocacy",
                            kind="advocacy", area="hampshire")
    everywhere = create(api, "agencies", **AGENCY)
    sign_in(client, "police.officer")
    london = client.get(f"/cases/{case_id(session, FIRST)}/team").get_data(as_text=True)
    assert everywhere["name"] in london and hampshire_only["name"] not in london


def test_pages_name_a_new_agency_by_its_name_not_its_code(app, api, client, session):
    create(api, "agencies", **AGENCY)
    case = case_id(session, FIRST)
    api("police.officer").post(f"/cases/{case}/members", json={"agency": "met-police-2"})
    sign_in(client, "police.officer")
    team = client.get(f"/cases/{case}/team").get_data(as_text=True)
    assert 'data-label="Agency">Metropolitan Police (north)</td>' in team
