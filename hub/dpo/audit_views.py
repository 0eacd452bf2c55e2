"""The DPO's audit pages: search with filters, CSV export, and access histories of a case,
a person and a user. HTTP only: access from hub.access, reads from queries.

Pages name people, users and cases by name and reference; the log itself keeps ids."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Blueprint, Response, abort, render_template, request
from flask_login import login_required
from marshmallow import ValidationError

from hub import access
from hub.auditlog import writer as audit
from hub.auditlog.models import OUTCOMES
from hub.dpo import exports, lookups, queries
from hub.dpo.schemas import AuditFilterIn, AuditSearchIn, HistoryIn
from hub.forms import all_errors
from hub.policy import Permission, current_policy
from hub.web.formatting import LONDON, agency_label

bp = Blueprint("audit", __name__, url_prefix="/audit")

TEXT_FILTERS = (("username", "User"), ("purpose", "Purpose"), ("case_id", "Case id"),
                ("person_id", "Person id"))
LABELS = {"agency": "Agency", "role": "Role", "action": "Action", "outcome": "Outcome",
          "break_glass": "Break-glass access only", "page": "Page",
          "per_page": "Events per page", **dict(TEXT_FILTERS)}
# Why an access happened, in words; the search still takes the codes.
PURPOSES = {"member": "Case team member", "break-glass": "Break-glass",
            "dpo-review": "DPO review", "subject-access": "Subject access request"}
HISTORY_ROWS = 200


def _raw() -> dict:
    return {k: v for k, v in request.args.items() if v != ""}


def _load(schema, raw: dict) -> tuple[dict | None, dict]:
    """The arguments, or every field in error with a message naming it as the page does."""
    try:
        return schema.load(raw), {}
    except ValidationError as exc:
        return None, {field: message if field in ("since", "until")
                      else f"{LABELS.get(field, field)}: {message}"
                      for field, message in all_errors(exc.messages).items()}


def _choices(raw: dict) -> dict[str, list[tuple[str, str]]]:
    """The pick-lists: agencies and roles from the policy, actions from the log. A value
    in the address that the lists do not hold is kept, so the form shows what it filters."""
    policy, agencies = current_policy(), lookups.agencies()
    lists = {  # events record the agency's own code; its roles are its kind's
        "agency": [(a.code, agency_label(a.code)) for a in agencies],
        "role": [(r, r.replace("_", " ")) for r in sorted(
            {role for a in agencies for role in policy.roles(a.kind)})],
        "action": [(a, a) for a in queries.known_actions()]}
    for name, options in lists.items():
        if raw.get(name) and raw[name] not in {value for value, _label in options}:
            options.append((raw[name], raw[name]))
    return lists


def _search_page(raw, errors, rows=(), total=0, page=1, per_page=50, status=200):
    return render_template(
        "audit/events.html", events=list(rows), total=total, args=raw, errors=errors,
        outcomes=OUTCOMES, text_filters=TEXT_FILTERS, choices=_choices(raw), page=page,
        pages=max(1, -(-total // per_page)),
        filters={k: v for k, v in raw.items() if k != "page"}), status


@bp.get("/")
@login_required
def events():
    access.require(Permission.AUDIT_READ)
    raw = _raw()
    args, errors = _load(AuditSearchIn(), raw)
    if errors:
        return _search_page(raw, errors, status=400)
    rows, total = queries.page(args, args["page"], args["per_page"])
    audit.record_now("audit:search", details={"filters": sorted(set(raw) - {"page"}),
                                              "total": total})
    reasons = queries.grant_reasons(rows)
    return _search_page(raw, {}, [queries.event_out(e, reasons) for e in rows], total,
                        args["page"], args["per_page"])


@bp.get("/export.csv")
@login_required
def export():
    access.require(Permission.AUDIT_READ)
    raw = {k: v for k, v in _raw().items() if k not in ("page", "per_page")}
    args, errors = _load(AuditFilterIn(), raw)
    if errors:
        return _search_page(raw, errors, status=400)
    try:
        text, rows = exports.events_csv(args)
    except exports.TooMany as exc:
        return _search_page(raw, {"export": str(exc)}, status=400)
    audit.record_now("audit:export", purpose="dpo-review",
                     details={"filters": sorted(raw), "rows": rows, "format": "csv"})
    return Response(text, mimetype="text/csv", headers={
        "Content-Disposition": 'attachment; filename="audit.csv"'})


def _this_week() -> str:
    """Monday of this week in London, as a person would type it."""
    today = datetime.now(LONDON).date()
    return f"{today - timedelta(days=today.weekday()):%d/%m/%Y}"


def _history(page: dict, filters: dict, recorded: dict):
    """Allowed accesses matching ``filters``, newest first. ``page`` holds the title and
    what the page says about its subject; ``recorded`` what the audit event adds."""
    raw = {k: v for k, v in _raw().items() if k in ("since", "until")}
    args, errors = _load(HistoryIn(), raw)
    context = {**page, "args": raw, "errors": errors, "this_week": _this_week(),
               "purposes": PURPOSES, "total": 0, "rows": [], "names": {}, "references": {}}
    if errors:
        return render_template("audit/history.html", **context), 400
    events, total = queries.page({**args, **filters, "outcome": "allowed"}, 1, HISTORY_ROWS)
    extra = {k: v for k, v in recorded.items() if k != "details"}
    audit.record_now("audit:history", case_id=filters.get("case_id"), **extra,
                     details={**recorded.get("details", {}), "rows": len(events),
                              "total": total})
    reasons = queries.grant_reasons(events)
    rows = [queries.event_out(e, reasons) for e in events]
    return render_template("audit/history.html", **{
        **context, "rows": rows, "total": total,
        "names": lookups.display_names(r["username"] for r in rows),
        "references": lookups.references(r["case_id"] for r in rows)})


def _refuse(what: str, details: dict):
    audit.record_now("audit:history", "denied", rule=f"no such {what}", details=details)
    abort(404)


@bp.get("/cases/<int:case_id>")
@login_required
def case_history(case_id: int):
    access.require(Permission.AUDIT_READ)
    found = lookups.case_area(case_id)
    if found is None:
        _refuse("case", {"case_id": case_id})
    reference, area = found
    return _history({"title": f"Who has seen case {reference}", "area": area,
                     "link": {"case_id": case_id}, "show_case": False},
                    {"case_id": case_id}, {"details": {"case_id": case_id}})


@bp.get("/people/<int:person_id>")
@login_required
def person_history(person_id: int):
    access.require(Permission.AUDIT_READ)
    parties = lookups.parties_of(person_id)
    if not parties:
        _refuse("person", {"person_id": person_id})
    name = parties[0].name
    title = f"Who has seen {name}'s record" if name else \
        f"Who has seen the record of person {person_id}, whose name was erased"
    classes = {lookups.IDENTITY[p.party] for p in parties} | {"case.core"}
    return _history({"title": title, "parties": parties, "link": {"person_id": person_id},
                     "show_case": True}, {"person_id": person_id},
                    {"subject_ids": [person_id], "classes": sorted(classes),
                     "purpose": "dpo-review", "details": {"person_id": person_id}})


@bp.get("/users/<username>")
@login_required
def user_history(username: str):
    access.require(Permission.AUDIT_READ)
    if len(username) > 64:
        abort(400)
    name = lookups.display_names([username]).get(username)
    return _history({"title": f"Activity of {name or username}", "username": username,
                     "link": {"username": username}, "show_case": True},
                    {"username": username}, {"details": {"username": username}})
