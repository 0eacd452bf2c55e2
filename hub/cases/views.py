"""Case pages. HTTP only: access from hub.access, writes from operations, content from
redaction, exactly as the JSON API does."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
    current_app,
    flash,
    g,
    redirect,
    render_template,
    request,
    url_for,
)
from flask_login import login_required
from marshmallow import ValidationError

from hub import access, disclosure
from hub.auditlog import writer as audit
from hub.cases import entry_form, operations, queries, reads, redaction, schemas
from hub.cases.models import CASE_STATUSES, ENTRY_KINDS, PERSON_FIELDS, RISK_LEVELS
from hub.forms import all_errors
from hub.policy import Permission, current_policy
from hub.policy.permissions import Relationship
from hub.timeutil import utcnow
from hub.web.formatting import LONDON, join_and, parse_date, uk_date

bp = Blueprint("cases", __name__, url_prefix="/cases")


def _form_errors(exc: ValidationError) -> dict[str, str]:
    return all_errors(exc.messages)


# The create-case form's fields in page order: (error key, form name, message when left
# empty, message when filled in wrongly), worded as the GOV.UK error message pattern asks.
_NEW_CASE_FIELDS = (
    ("perpetrator.name", "perpetrator_name", "Enter the perpetrator's full name",
     "The perpetrator's full name must be 200 characters or fewer"),
    ("victims.0.name", "victim_name", "Enter the victim's full name",
     "The victim's full name must be 200 characters or fewer"),
    ("victims.0.address", "victim_address", None,
     "The victim's address must be 500 characters or fewer"),
    ("victims.0.phone", "victim_phone", None,
     "Enter a phone number of up to 40 digits and spaces, like 07700 900982"),
    ("victims.0.email", "victim_email", None,
     "Enter an email address in the correct format, like name@example.com"),
    ("risk_level", "risk_level", "Select a risk level", "Select a risk level"),
    ("summary", "summary", None, "The summary must be 500 characters or fewer"),
)


def _new_case_errors(exc: ValidationError, form) -> dict[str, str]:
    """All the create form's errors, not only the first, in the order the page shows them."""
    found = all_errors(exc.messages)
    errors = {key: empty if empty and not form.get(name, "").strip() else wrong
              for key, name, empty, wrong in _NEW_CASE_FIELDS if found.pop(key, None)}
    return errors | found  # anything else (a NUL character, say) keeps its own message


@bp.get("/")
@login_required
def index():
    who = access.require(Permission.CASE_LIST)
    try:
        args = schemas.SearchIn().load(request.args.to_dict())
    except ValidationError as exc:
        return render_template("cases/list.html", page=None, q="", items=[],
                               errors=_form_errors(exc)), 400
    page, items = reads.case_list(who, args)
    return render_template("cases/list.html", page=page, q=args["q"], items=items, errors={},
                           can_create=access.can(Permission.CASE_CREATE),
                           break_glass_reference=_break_glass_offer(args["q"], page.total))


def _break_glass_offer(q: str, found: int) -> str | None:
    """The reference to offer emergency access to, when a search for one found nothing.

    Made whether or not such a case exists, so the offer says nothing about existence."""
    if found or not schemas.looks_like_reference(q) \
            or not access.can(Permission.CASE_BREAK_GLASS):
        return None
    return q.strip()


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    access.require(Permission.CASE_CREATE)
    errors, form = {}, request.form
    if request.method == "POST":
        data = {k: v for k, v in {
            "risk_level": form.get("risk_level"), "summary": form.get("summary"),
            "perpetrator": {"name": form.get("perpetrator_name", "")},
            "victims": [{k: v for k, v in {
                "name": form.get("victim_name", ""), "address": form.get("victim_address"),
                "phone": form.get("victim_phone"), "email": form.get("victim_email")}.items()
                if v}],
        }.items() if v}
        try:
            case = operations.create_case(g.user, schemas.CaseIn().load(data))
        except ValidationError as exc:
            errors = _new_case_errors(exc, form)
        except operations.OperationError as exc:
            errors = {exc.field or "summary": exc.message}
        else:
            flash(f"Case {case.reference} created.")
            return redirect(url_for(".show", case_id=case.id))
    return render_template("cases/new.html", errors=errors, form=form,
                           risk_levels=RISK_LEVELS), 400 if errors else 200


@bp.get("/<int:case_id>")
@login_required
def show(case_id: int):
    case, decision = access.open_case(case_id)
    return _render_case(case, decision)


def _render_case(case, decision, status: int = 200, *, errors: dict | None = None,
                 form=None):
    """The case page, as the caller may see it; its disclosure is audited first."""
    errors = dict(errors or {})
    kind = _kind_filter(errors)
    agency = access.principal().agency  # its kind: what narrowing names
    read = reads.case_page(case, decision, kind)
    body, summary, entries = read.body
    since = queries.previous_visit(g.user.id, case.id, read.event.seq)
    body["entries"].sort(key=lambda e: (e["created_at"], e["id"]), reverse=True)
    grant = queries.grant(read.event.grant_id)  # the one the read was recorded under
    return render_template(
        "cases/show.html", case=body, overview=summary, decision=decision, grant=grant,
        writable=sorted(decision.write), statuses=CASE_STATUSES, risk_levels=RISK_LEVELS,
        kind=kind, kinds=_kinds_shown(entries, decision, agency, kind), since=since,
        fresh=_new_since(entries, since, g.user.id), errors=errors, form=form,
        core_form=_core_values(case), can_edit_core=decision.can_write("case.core"),
        correctable=_correctable_people(case, decision),
        can_add_member=access.can(Permission.CASE_MEMBER_ADD)
        and decision.relationship is Relationship.MEMBER,
        can_add_entry=access.can(Permission.ENTRY_CREATE) and bool(decision.write),
        class_names=current_policy().set.classes), 400 if errors and status == 200 else status


def _core_values(case) -> dict:
    """The change form as it first shows: the case as it is, the date as people type it."""
    review = case.next_review_on
    return {"status": case.status, "risk_level": case.risk_level,
            "next_review_on": f"{review:%d/%m/%Y}" if review else ""}


def _kind_filter(errors: dict) -> str | None:
    """The kind of entry the page is filtered to; a kind that does not exist is an error."""
    try:
        args = schemas.CaseViewIn().load(request.args.to_dict())
    except ValidationError as exc:
        known = "kind" in _form_errors(exc)
        errors["kind"] = "Select a kind of entry from the list" if known else \
            "This page can only be filtered by the kind of entry"
        return None
    return args["kind"] or None


def _kinds_shown(entries, decision, agency: str, selected: str | None) -> list[str]:
    """Kinds the filter offers: those of the entries the caller may read."""
    present = {e.kind for e in redaction.visible(entries, decision, agency)}
    return [k for k in ENTRY_KINDS if k in present or k == selected]


def _new_since(entries, since, user_id: int) -> dict[int, str]:
    """Entries others added or changed after the caller's previous visit: id -> label."""
    if since is None:
        return {}
    return {e.id: "New" if e.created_at > since else "Updated" for e in entries
            if e.current.created_at > since and e.current.author_id != user_id}


def _correctable_people(case, decision) -> set[int]:
    """People some of whose details the caller may both read and correct."""
    return {p.person_id for p in case.parties if p.person.erased_at is None
            and _correctable_fields(p.party, decision)}


def _correctable_fields(party: str, decision) -> list[str]:
    return [name for name, info_class in PERSON_FIELDS[party].items()
            if decision.can_read(info_class) and decision.can_write(info_class)]


@bp.route("/<int:case_id>/notes/new", methods=["GET", "POST"])
@login_required
def new_entry(case_id: int):
    access.require(Permission.ENTRY_CREATE, case_id)
    case, decision = access.open_case(case_id, "entry:create")
    errors, form = {}, request.form
    if request.method == "POST":
        try:
            data = schemas.EntryIn().load(entry_form.posted(form))
            operations.add_entry(g.user, case, decision, data)
        except ValidationError as exc:
            errors = entry_form.invalid(_form_errors(exc), form)
        except operations.OperationError as exc:
            errors = entry_form.refused(exc, form)
        else:
            flash("Note added.")
            return redirect(url_for(".show", case_id=case.id))
    page = disclosure.read_open(case, decision, "case:read",
                                lambda out: entry_form.page(case, decision, out)).body
    return render_template("cases/new_entry.html", case=case, page=page, errors=errors,
                           form=form), 400 if errors else 200


@bp.post("/<int:case_id>/members")
@login_required
def add_member(case_id: int):
    access.require(Permission.CASE_MEMBER_ADD, case_id)
    case, decision = access.open_case_as_member(case_id, "case:member:add")
    to_team = request.form.get("return_to") == "team"  # added from the team page
    # On the team page a problem sits by the agency list, or by the staff search.
    field = ("agency" if "agency" in request.form else "name") if to_team else None
    raw = {k: v.strip() for k, v in request.form.items() if k in ("username", "agency") and v}
    try:
        membership = operations.add_member(g.user, case, schemas.MemberIn().load(raw))
    except ValidationError as exc:
        message = "Select an agency to add" if field == "agency" and not raw \
            else next(iter(_form_errors(exc).values()))
        return _member_refused(case, decision, message, 400, field)
    except operations.OperationError as exc:
        return _member_refused(case, decision, exc.message, exc.status, field)
    if not to_team:
        flash("Added to the case team.")
        return redirect(url_for(".show", case_id=case.id))
    flash(f"{_member_name(membership)} is added to the case team.")
    return redirect(url_for(".team", case_id=case.id))


def _member_refused(case, decision, message: str, status: int, field: str | None = None):
    """A refused change writes nothing: the page again, with the reason and a 4xx (on the
    team page, by the ``field`` it concerns)."""
    if field:
        return _render_team(case, decision, errors={field: message}, status=status)
    flash(message, "error")
    return _render_case(case, decision, status)


@bp.route("/<int:case_id>/break-glass", methods=["GET", "POST"])
@login_required
def break_glass(case_id: int):
    """Emergency access by case number (from a case's 404 page). The number is resolved
    only when the request comes with a reason, so the form reveals nothing."""
    access.require(Permission.CASE_BREAK_GLASS, case_id)
    form, errors = {"reason": request.form.get("reason", "")}, {}
    if request.method == "POST":
        data, errors = _break_glass_form(schemas.BreakGlassIn(), form)
        if not errors:
            return _grant(access.case_for_break_glass(case_id), data["reason"])
    return _break_glass_page(errors, form, case_id=case_id)


# -- changing the case's status, risk level and review date ------------------------------
_CORE_MESSAGES = {"status": "Select a status", "risk_level": "Select a risk level",
                  "next_review_on": "Enter a real date for the next review, like 24/11/2026",
                  "version": "Reload the page and try again"}


@bp.post("/<int:case_id>/core")
@login_required
def update_core(case_id: int):
    case, decision = access.open_case(case_id, "case:update")
    _require_write(case, decision, "case.core", "case:update")
    form = request.form
    errors, data = _core_form(form, case)
    if errors:
        return _render_case(case, decision, 400, errors=errors, form=form)
    before = {name: getattr(case, name) for name in ("status", "risk_level", "next_review_on")}
    if all(before[k] == data[k] for k in before):
        flash("Nothing was changed.")
        return redirect(url_for(".show", case_id=case.id))
    try:
        operations.update_case(g.user, case, decision, data)
    except operations.Conflict:
        return _render_case(case, decision, 409, errors={"change-case": (
            "Someone else changed this case while you were editing it. Check its details "
            "below and make your change again.")})
    flash(_core_changes(before, case))
    return redirect(url_for(".show", case_id=case.id))


def _require_write(case, decision, info_class: str, action: str) -> None:
    """Refuse (403, audited) before reading the form: nothing about it is worth saying to
    someone who may not make the change at all."""
    if not decision.can_write(info_class):
        why = decision.explain(info_class, "write")
        audit.record_now(action, "denied", case_id=case.id,
                         rule=f"{info_class} is not writable: {why}")
        abort(403)


def _core_form(form, case) -> tuple[dict, dict]:
    """The form as CaseUpdateIn takes it, or the errors in GOV.UK words."""
    raw = {"status": form.get("status", ""), "risk_level": form.get("risk_level", ""),
           "version": form.get("version", "")}
    errors, review = {}, form.get("next_review_on", "").strip()
    try:
        raw["next_review_on"] = parse_date(review).isoformat() if review else None
    except ValueError:
        errors["next_review_on"] = _CORE_MESSAGES["next_review_on"]
    raw["version"] = int(raw["version"]) if raw["version"].isdigit() else -1
    try:
        data = schemas.CaseUpdateIn().load({k: v for k, v in raw.items()
                                            if k != "next_review_on" or not errors})
    except ValidationError as exc:
        errors.update({k: _CORE_MESSAGES.get(k, m) for k, m in _form_errors(exc).items()})
        return errors, {}
    if not errors and data.get("next_review_on") not in (None, case.next_review_on) and \
            data["next_review_on"] < utcnow().astimezone(LONDON).date():
        errors["next_review_on"] = "The next review date must be today or in the future"
    if raw["version"] < 0:
        errors["change-case"] = _CORE_MESSAGES["version"]
    return errors, data


def _core_changes(before: dict, case) -> str:
    """The success banner: what changed, in plain words."""
    said = []
    for name, label in (("status", "Status"), ("risk_level", "Risk level")):
        if before[name] != getattr(case, name):
            said.append(f"{label} changed from {before[name]} to {getattr(case, name)}.")
    if before["next_review_on"] != case.next_review_on:
        said.append(f"Next review date set to {uk_date(case.next_review_on)}."
                    if case.next_review_on else "Next review date removed.")
    return " ".join(said)


# -- correcting a person's details ---------------------------------------------------------
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
}


@bp.route("/<int:case_id>/people/<int:person_id>", methods=["GET", "POST"])
@login_required
def edit_person(case_id: int, person_id: int):
    posted = request.method == "POST"
    case, decision = access.open_case(case_id, "person:update" if posted else "person:read")
    party = _party_or_404(case, person_id)
    person = next(p.person for p in case.parties if p.person_id == person_id)
    names = _correctable_fields(party, decision)
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
        errors.update({k: _PERSON_MESSAGES.get(k, m) for k, m in _form_errors(exc).items()})
        return errors, {}
    return errors, data


def _person_value(name: str, text: str):
    if name == "aliases":
        return [line.strip() for line in text.splitlines() if line.strip()]
    if name == "nhs_number":
        text = text.replace(" ", "")
    if name == "pnc_id":
        text = text.upper()
    return text if text or name == "name" else None


_SAID = {"date_of_birth": "date of birth", "aliases": "other names", "pnc_id": "PNC ID",
         "nhs_number": "NHS number"}


def _person_changes(party: str, changes) -> str:
    if not changes:
        return "Nothing was changed."
    said = [_SAID.get(f, f) for c in changes for f in c.fields]
    listed = join_and(said)
    return f"The {party}'s {listed} {'was' if len(said) == 1 else 'were'} corrected. " \
        "The previous details are kept in the history."


# -- the case team (issue 10) -------------------------------------------------------------
def _member_name(membership) -> str:
    return membership.user.display_name if membership.user else membership.agency.name


def _open_team(case_id: int, action: str):
    """The team pages' pipeline: a role that may add members, and a member of this team
    (break-glass reads a case for a while; it never changes who may read it)."""
    access.require(Permission.CASE_MEMBER_ADD, case_id)
    return access.open_case_as_member(case_id, action)


@bp.get("/<int:case_id>/team")
@login_required
def team(case_id: int):
    """Who is on the team, a search of agency staff by name to add, and removals."""
    case, decision = _open_team(case_id, "case:read")
    try:
        args = schemas.StaffSearchIn().load(request.args.to_dict())
    except ValidationError as exc:
        return _render_team(case, decision, errors=_form_errors(exc), status=400)
    return _render_team(case, decision, args["name"])


def _render_team(case, decision, name: str = "", errors: dict | None = None,
                 status: int = 200):
    """The team page: the team is case.core, so showing it is a read, audited first. The
    staff search reads the staff directory alone, never a case."""
    members = _team_read(case, decision)
    joined = {m.agency_id for m in members if m.agency_id is not None}
    return render_template(
        "cases/team.html", case=case, members=members, name=name, errors=errors or {},
        staff=queries.staff_matching(name) if name.strip() else None,
        shown=queries.STAFF_SHOWN, on_team={m.user_id for m in members if m.user_id},
        agencies=[a for a in queries.partner_agencies(case.area_id)
                  if a.id not in joined]), status


def _team_read(case, decision) -> list:
    """The team is case.core: showing it is a read, on the record first."""
    def build(out):
        out.add("case.core")
        return queries.active_members(case)
    return disclosure.read_open(case, decision, "case:read", build, page="team").body


@bp.route("/<int:case_id>/members/<int:membership_id>/remove", methods=["GET", "POST"])
@login_required
def remove_member(case_id: int, membership_id: int):
    """Remove someone from the team: a confirmation page first, then the removal."""
    case, decision = _open_team(case_id, "case:member:remove")
    membership = access.membership_on(case, membership_id, "case:member:remove")
    if request.method == "GET":
        _team_read(case, decision)
        return render_template("cases/remove_member.html", case=case, membership=membership,
                               name=_member_name(membership))
    try:
        operations.remove_member(g.user, case, membership)
    except operations.OperationError as exc:
        flash(exc.message, "error")
        return _render_team(case, decision, status=exc.status)
    flash(f"{_member_name(membership)} is removed from the case team.")
    if queries.relationship(access.principal(), case) is not Relationship.MEMBER:
        return redirect(url_for(".index"))  # they removed themselves
    return redirect(url_for(".team", case_id=case.id))


# -- break-glass by reference (issue 10) --------------------------------------------------
# Each field of the break-glass forms: (name, message when left empty, when filled wrongly).
_BREAK_GLASS_FIELDS = (
    ("reference", "Enter the case reference",
     "Enter a case reference like STAC-LON-2026-00001"),
    ("reason", "Enter why you need access now",
     "Give the reason in at least 10 characters, and no more than 1,000"),
)


@bp.route("/break-glass", methods=["GET", "POST"])
@login_required
def break_glass_by_reference():
    """Emergency access to the case a reference names, offered where a search for it found
    nothing. Only a reasoned request resolves the reference; a case in another area and no
    case at all then get the same answer."""
    access.require(Permission.CASE_BREAK_GLASS)
    source = request.form if request.method == "POST" else request.args
    form = {"reference": source.get("reference", "").strip(),
            "reason": request.form.get("reason", "")}
    schema, errors = schemas.BreakGlassByReferenceIn(), {}
    if request.method == "POST":
        data, errors = _break_glass_form(schema, form)
        if not errors:
            case = access.case_for_break_glass_reference(data["reference"])
            if case is not None:
                return _grant(case, data["reason"])
            errors = {"reference": "There is no case with that reference in your area"}
            return _break_glass_page(errors, form, status=404)
    elif form["reference"]:
        _data, errors = _break_glass_form(schema, form, partial=("reason",))
    return _break_glass_page(errors, form)


def _break_glass_form(schema, form: dict, partial=()) -> tuple[dict, dict[str, str]]:
    """(the request, {}) or ({}, every field in error in page order, in GOV.UK words)."""
    wanted = {k: v for k, v in form.items() if k in schema.fields and k not in partial}
    try:
        return schema.load(wanted, partial=partial), {}
    except ValidationError as exc:
        found = _form_errors(exc)
    worded = {name: empty if not form.get(name, "").strip() else wrong
              for name, empty, wrong in _BREAK_GLASS_FIELDS if name in found}
    return {}, worded or found


def _break_glass_page(errors: dict, form: dict, case_id: int | None = None,
                      status: int | None = None):
    return render_template(
        "cases/break_glass.html", case_id=case_id, errors=errors, form=form,
        minutes=current_app.config["HUB_BREAK_GLASS_MINUTES"],
    ), status or (400 if errors else 200)


def _grant(case, reason: str):
    operations.break_glass(g.user, case, reason)
    flash("Emergency access granted. The data protection officer has been alerted.")
    return redirect(url_for(".show", case_id=case.id))
