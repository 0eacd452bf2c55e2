"""Case routes of the JSON API. HTTP only: access comes from hub.access, writes from
operations, every response body from redaction."""

from flask import abort, g, jsonify

from hub import access, disclosure
from hub.api import bp, load, query_args
from hub.auditlog import writer as audit
from hub.cases import operations, queries, reads, redaction, schemas
from hub.cases.models import Entry
from hub.extensions import db
from hub.policy import Permission


@bp.get("/cases")
def list_cases():
    who = access.require(Permission.CASE_LIST)
    args = query_args(schemas.SearchIn())
    page, items = reads.case_list(who, args)
    return jsonify(items=items, total=page.total, page=page.page, per_page=page.per_page)


@bp.post("/cases")
def create_case():
    access.require(Permission.CASE_CREATE)
    data = load(schemas.CaseIn())
    case, event = operations.create_case(g.user, data), audit.last_event()
    case, decision = access.open_case(case.id)
    return jsonify(disclosure.answer_write(event, lambda out: redaction.case_detail(
        case, decision, [], access.principal().agency, out))), 201


@bp.get("/cases/<int:case_id>")
def get_case(case_id: int):
    return jsonify(reads.case(case_id).body)


@bp.patch("/cases/<int:case_id>")
def update_case(case_id: int):
    case, decision = access.open_case(case_id, "case:update")
    data = load(schemas.CaseUpdateIn())
    operations.update_case(g.user, case, decision, data)
    return jsonify(id=case.id, version=case.version, status=case.status,
                   risk_level=case.risk_level)


@bp.post("/cases/<int:case_id>/members")
def add_member(case_id: int):
    access.require(Permission.CASE_MEMBER_ADD, case_id)
    case, _decision = access.open_case_as_member(case_id, "case:member:add")
    membership = operations.add_member(g.user, case, load(schemas.MemberIn()))
    return jsonify(id=membership.id, case_id=case.id,
                   username=membership.user.username if membership.user else None,
                   agency=membership.agency.code if membership.agency else
                   membership.user.agency.code), 201


@bp.get("/cases/<int:case_id>/notes")
def list_notes(case_id: int):
    return jsonify(reads.notes(case_id).body)


@bp.post("/cases/<int:case_id>/notes")
def add_note(case_id: int):
    access.require(Permission.ENTRY_CREATE, case_id)
    case, decision = access.open_case(case_id, "entry:create")
    entry = operations.add_entry(g.user, case, decision, load(schemas.EntryIn()))
    return jsonify(_written(entry, case)), 201


@bp.put("/cases/<int:case_id>/notes/<int:entry_id>")
def edit_note(case_id: int, entry_id: int):
    case, decision = access.open_case(case_id, "entry:edit")
    entry = db.session.get(Entry, entry_id)
    if entry is None or entry.case_id != case.id or not decision.can_read_entry(
            entry.info_class, entry.kind, entry.restricted_to, access.principal().agency):
        audit.record_now("entry:edit", "denied", case_id=case.id, rule="entry not visible",
                         details={"entry_id": entry_id})
        abort(404)
    entry = operations.edit_entry(g.user, case, decision, entry, load(schemas.EntryEditIn()))
    return jsonify(_written(entry, case))


def _written(entry: Entry, case) -> dict:
    """The entry just written, as its author may see it: its write event records it."""
    return disclosure.answer_write(audit.last_event(),
                                   lambda out: redaction.entry_out(entry, case, out))


@bp.post("/cases/<int:case_id>/break-glass")
def break_glass(case_id: int):
    access.require(Permission.CASE_BREAK_GLASS, case_id)
    data = load(schemas.BreakGlassIn())
    case = access.case_for_break_glass(case_id)
    grant = operations.break_glass(g.user, case, data["reason"])
    return jsonify(case_id=case.id, expires_at=grant.expires_at.isoformat(),
                   classes=sorted(queries.decide(access.principal(), case).read))


@bp.delete("/cases/<int:case_id>/members/<int:membership_id>")
def remove_member(case_id: int, membership_id: int):
    """Take a named user or an agency off the case team; the row stays, marked removed."""
    access.require(Permission.CASE_MEMBER_ADD, case_id)
    case, _decision = access.open_case_as_member(case_id, "case:member:remove")
    membership = access.membership_on(case, membership_id, "case:member:remove")
    operations.remove_member(g.user, case, membership)
    return "", 204


@bp.patch("/cases/<int:case_id>/people/<int:person_id>")
def update_person(case_id: int, person_id: int):
    """Correct a person's details; each correction keeps the values it replaced."""
    case, decision = access.open_case(case_id, "person:update")
    person = next((p.person for p in case.parties if p.person_id == person_id), None)
    if person is None:
        audit.record_now("person:update", "denied", case_id=case.id,
                         rule="not a person in this case",
                         details={"requested_person_id": person_id})
        abort(404)
    changes = operations.correct_person(g.user, case, decision, person,
                                        load(schemas.PersonUpdateIn()))
    return jsonify(id=person.id, changes=[
        {"class": c.info_class, "fields": list(c.fields), "at": c.changed_at.isoformat(),
         "agency": c.agency.code} for c in changes])
