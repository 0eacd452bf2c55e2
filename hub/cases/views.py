"""Case pages. HTTP only: access from hub.access, writes from operations, content from
redaction, exactly as the JSON API does."""

from __future__ import annotations

from flask import (
    Blueprint,
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

from hub import access
from hub.api import all_errors
from hub.auditlog import writer as audit
from hub.cases import operations, queries, redaction, schemas
from hub.cases.models import CASE_STATUSES, ENTRY_KINDS, RISK_LEVELS
from hub.policy import Permission, current_policy
from hub.policy.permissions import Relationship

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
    page = queries.search(who, args["q"], args["page"], args["per_page"])
    out = redaction.Disclosure()
    items = [redaction.case_summary(c, queries.decide(who, c), out) for c in page.items]
    audit.record_now("case:search" if args["q"] else "case:list", classes=out.classes,
                     subject_ids=out.subject_ids,
                     details={"case_ids": [c.id for c in page.items], "total": page.total,
                              "page": page.page, "query": bool(args["q"])})
    return render_template("cases/list.html", page=page, q=args["q"], items=items, errors={},
                           can_create=access.can(Permission.CASE_CREATE))


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


def _render_case(case, decision, status: int = 200):
    """The case page, as the caller may see it; its disclosure is audited first."""
    out = redaction.Disclosure()
    body = redaction.case_detail(case, decision, queries.entries(case), g.user.agency.code, out)
    audit.record_now("case:read", case_id=case.id, classes=out.classes,
                     subject_ids=out.subject_ids, purpose=decision.relationship.purpose,
                     rule=decision.why)
    grant = queries.active_grant(access.principal(), case) \
        if decision.relationship is Relationship.BREAK_GLASS else None
    return render_template(
        "cases/show.html", case=body, decision=decision, grant=grant,
        writable=sorted(decision.write), statuses=CASE_STATUSES,
        can_add_member=access.can(Permission.CASE_MEMBER_ADD)
        and decision.relationship is Relationship.MEMBER,
        can_add_entry=access.can(Permission.ENTRY_CREATE) and bool(decision.write),
        class_names=current_policy().set.classes), status


@bp.route("/<int:case_id>/notes/new", methods=["GET", "POST"])
@login_required
def new_entry(case_id: int):
    access.require(Permission.ENTRY_CREATE, case_id)
    case, decision = access.open_case(case_id, "entry:create")
    errors, form = {}, request.form
    if request.method == "POST":
        data = {"body": form.get("body", ""), "class": form.get("class", ""),
                "kind": form.get("kind") or "note"}
        if form.getlist("restricted_to"):
            data["restricted_to"] = form.getlist("restricted_to")
        try:
            operations.add_entry(g.user, case, decision, schemas.EntryIn().load(data))
        except ValidationError as exc:
            errors = _form_errors(exc)
        except operations.OperationError as exc:
            errors = {exc.field or "body": exc.message}
        else:
            flash("Note added.")
            return redirect(url_for(".show", case_id=case.id))
    agencies = [a for a in current_policy().set.agencies if a != "hub"]
    return render_template("cases/new_entry.html", case=case, errors=errors, form=form,
                           writable=sorted(decision.write), kinds=ENTRY_KINDS,
                           agencies=agencies), 400 if errors else 200


@bp.post("/<int:case_id>/members")
@login_required
def add_member(case_id: int):
    access.require(Permission.CASE_MEMBER_ADD, case_id)
    case, decision = access.open_case_as_member(case_id, "case:member:add")
    raw = {k: v.strip() for k, v in request.form.items() if k in ("username", "agency") and v}
    try:
        operations.add_member(g.user, case, schemas.MemberIn().load(raw))
    except ValidationError as exc:
        return _member_refused(case, decision, next(iter(_form_errors(exc).values())), 400)
    except operations.OperationError as exc:
        return _member_refused(case, decision, exc.message, exc.status)
    flash("Added to the case team.")
    return redirect(url_for(".show", case_id=case.id))


def _member_refused(case, decision, message: str, status: int):
    """A refused change writes nothing: the case page again, with the reason and a 4xx."""
    flash(message, "error")
    return _render_case(case, decision, status)


@bp.route("/<int:case_id>/break-glass", methods=["GET", "POST"])
@login_required
def break_glass(case_id: int):
    access.require(Permission.CASE_BREAK_GLASS, case_id)
    case = access.case_for_break_glass(case_id)
    errors = {}
    if request.method == "POST":
        try:
            data = schemas.BreakGlassIn().load({"reason": request.form.get("reason", "")})
        except ValidationError as exc:
            errors = _form_errors(exc)
        else:
            operations.break_glass(g.user, case, data["reason"])
            flash("Emergency access granted. The data protection officer has been alerted.")
            return redirect(url_for(".show", case_id=case.id))
    return render_template("cases/break_glass.html", case_id=case_id,
                           minutes=current_app.config["HUB_BREAK_GLASS_MINUTES"],
                           errors=errors), 400 if errors else 200
