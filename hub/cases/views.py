"""Case pages. HTTP only: access from hub.access, writes from operations, content from
redaction, exactly as the JSON API does."""

from __future__ import annotations

from flask import (
    Blueprint,
    abort,
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
from hub.cases import casework, entry_form, operations, queries, reads, redaction, schemas
from hub.cases.models import CASE_STATUSES, ENTRY_KINDS, RISK_LEVELS
from hub.forms import all_errors
from hub.policy import Permission, current_policy
from hub.policy.permissions import Relationship
from hub.timeutil import utcnow
from hub.web.formatting import LONDON, parse_date, uk_date

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
    return render_case(case, decision)


def render_case(case, decision, status: int = 200, *, errors: dict | None = None,
                 form=None):
    """The case page, as the caller may see it; its disclosure is audited first."""
    errors = dict(errors or {})
    kind = _kind_filter(errors)
    agency = access.principal().agency  # its kind: what narrowing names
    # Everything the page asks the database comes before its read is recorded: a query
    # after the commit would need a transaction of its own, and could fail after the log
    # said the page was shown.
    since = queries.previous_visit(g.user.id, case.id)
    join_requests = queries.pending_join_requests(case) if access.can(
        Permission.CASE_MEMBER_ADD) and decision.relationship is Relationship.MEMBER else []
    read = reads.case_page(case, decision, kind)
    body, summary, entries = read.body
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
        can_screen=access.can(Permission.REFERRAL_SCREEN)
        and decision.relationship is Relationship.MEMBER,
        can_assess=access.can(Permission.ENTRY_CREATE) and bool(casework.tools_for(decision)),
        tool_names={t.id: t.name for t in casework.tools().values()},
        join_requests=join_requests,
        tool_questions={t.id: t.questions for t in casework.tools().values()},
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
            and people_views.correctable_fields(p.party, decision)}


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


# -- changing the case's status, risk level and review date ------------------------------
_CORE_MESSAGES = {"status": "Select a status", "risk_level": "Select a risk level",
                  "next_review_on": "Enter a real date for the next review, like 24/11/2026",
                  "version": "Reload the page and try again",
                  "closure_reason": "Give the reason for closing the case"}


@bp.post("/<int:case_id>/core")
@login_required
def update_core(case_id: int):
    case, decision = access.open_case(case_id, "case:update")
    _require_write(case, decision, "case.core", "case:update")
    form = request.form
    errors, data = _core_form(form, case)
    if errors:
        return render_case(case, decision, 400, errors=errors, form=form)
    before = {name: getattr(case, name) for name in ("status", "risk_level", "next_review_on")}
    if all(before[k] == data[k] for k in before):
        flash("Nothing was changed.")
        return redirect(url_for(".show", case_id=case.id))
    try:
        operations.update_case(g.user, case, decision, data)
    except operations.Conflict as exc:
        if exc.field == "status":  # a referral waiting for screening
            return render_case(case, decision, 409, form=form, errors={
                "status": "This referral is waiting for screening: the coordinator accepts, "
                          "declines or signposts it"})
        return render_case(case, decision, 409, errors={"change-case": (
            "Someone else changed this case while you were editing it. Check its details "
            "below and make your change again.")})
    except operations.Invalid as exc:  # no reason to close it, or a location in the reason
        message = _CORE_MESSAGES.get(exc.field, exc.message) \
            if exc.message.startswith("give the reason") else exc.message
        return render_case(case, decision, 400, form=form, errors={exc.field: message})
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
    if form.get("closure_reason", "").strip():
        raw["closure_reason"] = form["closure_reason"].strip()
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


# The case's other pages register on ``bp`` too.
from hub.cases import people_views, team_views  # noqa: E402,F401
