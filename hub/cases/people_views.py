"""Correcting a person's details on a case: the values replaced are kept, encrypted, as
the person's history (hub/cases/operations.py ``correct_person``)."""

from __future__ import annotations

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_login import login_required
from marshmallow import ValidationError

from hub import access, disclosure
from hub.auditlog import writer as audit
from hub.cases import operations, redaction, schemas
from hub.cases.models import PERSON_FIELDS
from hub.cases.views import bp
from hub.forms import all_errors
from hub.web.formatting import join_and, parse_date


def correctable_fields(party: str, decision) -> list[str]:
    """The details of a person in ``party`` the caller may both read and correct."""
    return [name for name, info_class in PERSON_FIELDS[party].items()
            if decision.can_read(info_class) and decision.can_write(info_class)]


_PERSON_MESSAGES = {
    "name": "Enter the full name, in 200 characters or fewer",
    "date_of_birth": "Enter a real date of birth in the past, like 14/03/1984",
    "aliases": "Enter up to 20 other names, one a line, each 200 characters or fewer",
    "pnc_id": "Enter a PNC ID in the correct format, like 2004/0112233X",
    "nhs_number": "Enter a valid 10-digit NHS number, like 943 476 5919",
    "address": "The address must be 500 characters or fewer",
    "phone": "Enter a phone number of up to 40 digits and spaces, like 07700 900982",
    "email": "Enter an email address in the correct format, like name@example.com",
    "workplace": "The workplace must be 500 characters or fewer",
    "safe_contact": "The ways to contact her must be 500 characters or fewer",
    "online_identifiers": "Enter up to 20 online identifiers, one a line, each 200 characters "
                          "or fewer",
}


@bp.route("/<int:case_id>/people/<int:person_id>", methods=["GET", "POST"])
@login_required
def edit_person(case_id: int, person_id: int):
    posted = request.method == "POST"
    case, decision = access.open_case(case_id, "person:update" if posted else "person:read")
    party = _party_or_404(case, person_id)
    person = next(p.person for p in case.parties if p.person_id == person_id)
    names = correctable_fields(party, decision)
    if not names or person.erased_at is not None:
        audit.record_now("person:update" if posted else "person:read", "denied",
                         case_id=case.id, subject_ids=[person.id],
                         rule="no detail of this person is correctable by the caller")
        abort(403)
    errors, status = {}, 200
    if posted:
        errors, data = _person_form(request.form, names)
        status = 400 if errors else 200
        if not errors:
            try:
                changes = operations.correct_person(g.user, case, decision, person, data)
            except operations.OperationError as exc:
                status = exc.status
                field = exc.field if exc.field in names else names[0]
                errors = {field: exc.message[:1].upper() + exc.message[1:]}
            else:
                flash(_person_changes(party, changes))
                return redirect(url_for(".show", case_id=case.id) + f"#person-{person.id}")
    return _render_person_form(case, decision, person, party, names, errors, status)


def _party_or_404(case, person_id: int) -> str:
    party = next((p.party for p in case.parties if p.person_id == person_id), None)
    if party is None:
        audit.record_now("person:read", "denied", case_id=case.id, rule="not a person in this case",
                         details={"requested_person_id": person_id})
        abort(404)
    return party


def _render_person_form(case, decision, person, party: str, names: list[str], errors: dict,
                        status: int):
    """The correction form; after a stale correction (409) it shows the details as they
    are now, with their new version, for the person to make the change again."""
    values = disclosure.read_open(
        case, decision, "person:read",
        lambda out: redaction.correction_form(person, party, names, decision, out),
        person_id=person.id, form="correct").body
    form = request.form if errors and status != 409 else None
    return render_template("cases/person_edit.html", case=case, person=person, party=party,
                           values=values, form=form, errors=errors,
                           groups=_by_class(party, names)), status


def _by_class(party: str, names: list[str]) -> dict[str, list[str]]:
    groups: dict[str, list[str]] = {}
    for name in names:
        groups.setdefault(PERSON_FIELDS[party][name], []).append(name)
    return groups


def _person_form(form, names: list[str]) -> tuple[dict, dict]:
    """The correction as PersonUpdateIn takes it: empty optional fields clear the value."""
    raw, errors = {}, {}
    for name in names:
        if name not in form:
            continue
        text = form.get(name, "").strip()
        if name == "date_of_birth" and text:
            try:
                text = parse_date(text).isoformat()
            except ValueError:
                errors[name] = _PERSON_MESSAGES[name]
                continue
        raw[name] = _person_value(name, text)
    if form.get("version", "").isdigit():
        raw["version"] = int(form["version"])
    try:
        data = schemas.PersonUpdateIn().load(raw)
    except ValidationError as exc:
        errors.update({k: _PERSON_MESSAGES.get(k, m) for k, m in all_errors(exc.messages).items()})
        return errors, {}
    return errors, data


def _person_value(name: str, text: str):
    if name in ("aliases", "online_identifiers"):
        return [line.strip() for line in text.splitlines() if line.strip()]
    if name == "nhs_number":
        text = text.replace(" ", "")
    if name == "pnc_id":
        text = text.upper()
    return text if text or name == "name" else None


_SAID = {"date_of_birth": "date of birth", "aliases": "other names", "pnc_id": "PNC ID",
         "nhs_number": "NHS number", "safe_contact": "safe ways to contact her",
         "online_identifiers": "online identifiers"}


def _person_changes(party: str, changes) -> str:
    if not changes:
        return "Nothing was changed."
    said = [_SAID.get(f, f) for c in changes for f in c.fields]
    listed = join_and(said)
    return f"The {party}'s {listed} {'was' if len(said) == 1 else 'were'} corrected. " \
        "The previous details are kept in the history."
