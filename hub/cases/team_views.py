"""The case team's pages (who works the case: find staff, add a whole agency, remove a
member) and emergency access (break-glass) by case number or by a typed reference."""

from __future__ import annotations

from flask import current_app, flash, g, redirect, render_template, request, url_for
from flask_login import login_required
from marshmallow import ValidationError

from hub import access, disclosure
from hub.cases import operations, queries, schemas, views
from hub.cases.views import bp
from hub.forms import all_errors
from hub.policy import Permission
from hub.policy.permissions import Relationship


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
            else next(iter(all_errors(exc.messages).values()))
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
    return views.render_case(case, decision, status)


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
        return _render_team(case, decision, errors=all_errors(exc.messages), status=400)
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
        found = all_errors(exc.messages)
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
