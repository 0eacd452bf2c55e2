"""Admin pages for areas and agencies: list, add and change them, and suspend or reactivate
an agency. Routes of the admin blueprint (hub/admin/views.py checks who may use them);
the same schemas and operations as the API and the `hub` commands."""

from __future__ import annotations

from flask import flash, g, redirect, render_template, request, url_for
from marshmallow import ValidationError

from hub import access
from hub.admin import operations, queries
from hub.admin import schemas as s
from hub.admin.views import bp
from hub.auditlog import writer as audit
from hub.policy import current_policy

# Each refusal in the words of the GOV.UK error message pattern, by field.
_WORDS = {"name": "Enter the {what}'s name", "kind": "Select the kind of agency",
          "area": "Select an area from the list"}
_NAME_TOO_LONG = "The name must be 120 characters or fewer"
_CODE_EXAMPLE = {"area": "north-wales", "agency": "met-police-north"}


def _errors(exc: ValidationError, what: str, form) -> dict[str, str]:
    out = {}
    for field in exc.messages:
        if field == "code":
            out[field] = ("Enter a code of lower-case letters, digits and hyphens, like "
                          f"{_CODE_EXAMPLE[what]}")
        elif field == "name" and len(form.get("name", "")) > 120:
            out[field] = _NAME_TOO_LONG
        elif field in _WORDS:
            out[field] = _WORDS[field].format(what=what)
    return out


def _in_order(errors: dict[str, str]) -> dict[str, str]:
    """The error summary lists problems in the order the fields come on the page."""
    order = ("code", "name", "kind", "area")
    return dict(sorted(errors.items(), key=lambda kv: order.index(kv[0])
                       if kv[0] in order else len(order)))


def _refusal(exc: operations.AdminError, what: str) -> dict[str, str]:
    if exc.field == "code":
        return {"code": f"An {what} with this code already exists"}
    if exc.field == "area" and exc.status == 400:
        return {"area": _WORDS["area"]}
    if exc.field == "kind" and exc.status == 400:
        return {"kind": _WORDS["kind"]}
    message = exc.message[0].upper() + exc.message[1:]
    return {exc.field or "name": message}


def _page(template: str, action: str, **context):
    """A page that shows records: on the record before it is sent."""
    audit.record_now(action)
    return render_template(template, **context)


def _form(template: str, status: int = 200, **context):
    return render_template(template, areas=queries.areas(), kinds=_kinds(), **context), status


def _kinds() -> list[tuple[str, list[str], bool]]:
    """(kind, its roles, whether its staff do casework) in the policy's order."""
    policy = current_policy()
    return [(kind, sorted(policy.roles(kind)), policy.does_casework(kind))
            for kind in policy.set.agencies]


def _posted(fields: tuple[str, ...]) -> dict:
    """The form as the API takes it: an empty area means every area (agencies) or none."""
    raw = {k: request.form.get(k, "").strip() for k in fields}
    if "area" in raw:
        raw["area"] = raw["area"] or None
    return raw


# -- areas ---------------------------------------------------------------------------------
@bp.get("/areas")
def areas():
    return _page("admin/areas.html", "admin:area:list", areas=queries.areas(),
                 with_policy=set(current_policy().set.area_rules))


def _area_or_404(area_id: int):
    return access.found(queries.area(area_id), "admin:area:read", requested_id=area_id)


@bp.route("/areas/new", methods=["GET", "POST"])
def new_area():
    if request.method == "GET":
        audit.record_now("admin:area:new")
        return _form("admin/area_form.html", area=None, values={}, errors={})
    values = _posted(("code", "name"))
    try:
        made = operations.create_area(s.AreaIn().load(values), g.user)
    except ValidationError as exc:
        errors = _errors(exc, "area", values)
    except operations.AdminError as exc:
        errors = _refusal(exc, "area")
    else:
        flash(f"{made.name} has been added.")
        return redirect(url_for(".areas")), 303
    return _form("admin/area_form.html", 400, area=None, values=values,
                 errors=_in_order(errors))


@bp.route("/areas/<int:area_id>", methods=["GET", "POST"])
def change_area(area_id: int):
    area = _area_or_404(area_id)
    if request.method == "GET":
        audit.record_now("admin:area:read", details={"area_id": area.id})
        return _form("admin/area_form.html", area=area, values={"name": area.name},
                     errors={})
    values = _posted(("name",))
    try:
        operations.update_area(area, s.AreaUpdateIn().load(values), g.user)
    except ValidationError as exc:
        return _form("admin/area_form.html", 400, area=area, values=values,
                     errors=_errors(exc, "area", values))
    flash(f"{area.name} has been changed.")
    return redirect(url_for(".areas")), 303


# -- agencies ------------------------------------------------------------------------------
@bp.get("/agencies")
def agencies():
    rows = queries.agencies()
    return _page("admin/agencies.html", "admin:agency:list", agencies=rows,
                 suspendable={a.id for a in rows if operations.may_be_suspended(a)})


def _agency_or_404(agency_id: int):
    return access.found(queries.agency(agency_id), "admin:agency:read", requested_id=agency_id)


@bp.route("/agencies/new", methods=["GET", "POST"])
def new_agency():
    if request.method == "GET":
        audit.record_now("admin:agency:new")
        return _form("admin/agency_form.html", agency=None, values={}, errors={})
    values = _posted(("code", "name", "kind", "area"))
    try:
        made = operations.create_agency(s.AgencyIn().load(values), g.user)
    except ValidationError as exc:
        errors = _errors(exc, "agency", values)
    except operations.AdminError as exc:
        errors = _refusal(exc, "agency")
    else:
        flash(f"{made.name} has been added.")
        return redirect(url_for(".agencies")), 303
    return _form("admin/agency_form.html", 400, agency=None, values=values,
                 errors=_in_order(errors))


@bp.route("/agencies/<int:agency_id>/change", methods=["GET", "POST"])
def change_agency(agency_id: int):
    agency = _agency_or_404(agency_id)
    if request.method == "GET":
        audit.record_now("admin:agency:read", details={"agency_id": agency.id})
        values = {"name": agency.name, "kind": agency.kind,
                  "area": agency.area.code if agency.area else ""}
        return _form("admin/agency_form.html", agency=agency, values=values, errors={})
    values = _posted(("name", "kind", "area"))
    try:
        operations.update_agency(agency, s.AgencyUpdateIn().load(values), g.user)
    except ValidationError as exc:
        errors, status = _errors(exc, "agency", values), 400
    except operations.AdminError as exc:
        errors, status = _refusal(exc, "agency"), exc.status
    else:
        flash(f"{agency.name} has been changed.")
        return redirect(url_for(".agencies")), 303
    return _form("admin/agency_form.html", status, agency=agency, values=values,
                 errors=_in_order(errors))


# -- suspension ----------------------------------------------------------------------------
@bp.post("/agencies/<int:agency_id>")
def set_agency(agency_id: int):
    """Reactivate at once; a suspension is only ever made from its confirmation page."""
    agency = _agency_or_404(agency_id)
    if request.form.get("active") != "yes":
        return redirect(url_for(".confirm_suspension", agency_id=agency.id)), 303
    operations.set_agency_active(agency, True, g.user)
    flash(f"{agency.name} is active again. Its staff can sign in.")
    return redirect(url_for(".agencies")), 303


@bp.get("/agencies/<int:agency_id>/suspend")
def confirm_suspension(agency_id: int):
    agency = _agency_or_404(agency_id)
    try:
        operations.check_suspension(agency, g.user)
    except operations.AdminError as exc:
        return _suspension_refused(agency, exc)
    audit.record_now("admin:agency:read", details={"agency_id": agency.id})
    return _suspension_page(agency, {})


@bp.post("/agencies/<int:agency_id>/suspend")
def suspend_agency(agency_id: int):
    agency = _agency_or_404(agency_id)
    answer = request.form.get("confirm")
    if answer == "no":
        return redirect(url_for(".agencies")), 303
    if answer != "yes":
        return _suspension_page(agency, {"confirm": f"Select yes if you want to suspend "
                                                    f"{agency.name}"}, 400)
    staff = queries.active_staff(agency)
    try:
        operations.set_agency_active(agency, False, g.user)
    except operations.AdminError as exc:
        return _suspension_refused(agency, exc)
    flash(f"{agency.name} is suspended. {_people(staff)} signed out.")
    return redirect(url_for(".agencies")), 303


def _people(count: int) -> str:
    return f"{count} user{'' if count == 1 else 's'} {'was' if count == 1 else 'were'}"


def _suspension_page(agency, errors: dict, status: int = 200):
    return render_template("admin/suspend_agency.html", agency=agency, errors=errors,
                           staff=queries.active_staff(agency)), status


def _suspension_refused(agency, exc: operations.AdminError):
    return render_template("admin/suspend_agency.html", agency=agency, errors={},
                           refusal=exc.message), exc.status
