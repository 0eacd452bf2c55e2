"""The DPO's audit pages: search with filters, CSV export, and access histories of a case,
a person and a user. HTTP only: access from hub.access, reads from queries."""

from __future__ import annotations

from flask import Blueprint, Response, abort, render_template, request
from flask_login import login_required
from marshmallow import ValidationError

from hub import access
from hub.api import _first
from hub.auditlog import queries
from hub.auditlog import writer as audit
from hub.auditlog.models import OUTCOMES
from hub.auditlog.schemas import AuditFilterIn, AuditSearchIn, HistoryIn
from hub.dpo import exports
from hub.policy import Permission

bp = Blueprint("audit", __name__, url_prefix="/audit")

TEXT_FILTERS = (("username", "User"), ("agency", "Agency"), ("role", "Role"),
                ("action", "Action"), ("purpose", "Purpose"), ("case_id", "Case id"),
                ("person_id", "Person id"))


def _raw() -> dict:
    return {k: v for k, v in request.args.items() if v != ""}


def _load(schema, raw: dict) -> tuple[dict | None, dict]:
    try:
        return schema.load(raw), {}
    except ValidationError as exc:
        field, message = _first(exc.messages)
        return None, {field: f"{field}: {message}"}


def _search_page(raw, errors, rows=(), total=0, page=1, per_page=50, status=200):
    return render_template(
        "audit/events.html", events=list(rows), total=total, args=raw, errors=errors,
        outcomes=OUTCOMES, text_filters=TEXT_FILTERS, page=page,
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


def _history(title: str, filters: dict, link: dict):
    raw = {k: v for k, v in _raw().items() if k in ("since", "until")}
    args, errors = _load(HistoryIn(), raw)
    if errors:
        return render_template("audit/history.html", title=title, rows=[], errors=errors,
                               args=raw, link=link), 400
    rows = queries.history({**args, **filters})
    audit.record_now("audit:history", case_id=filters.get("case_id"),
                     details={**filters, "rows": len(rows)})
    return render_template("audit/history.html", title=title, rows=rows, errors={}, args=raw,
                           link=link)


@bp.get("/cases/<int:case_id>")
@login_required
def case_history(case_id: int):
    access.require(Permission.AUDIT_READ)
    return _history(f"Who has seen case {case_id}", {"case_id": case_id}, {"case_id": case_id})


@bp.get("/people/<int:person_id>")
@login_required
def person_history(person_id: int):
    access.require(Permission.AUDIT_READ)
    return _history(f"Who has seen person {person_id}'s data", {"person_id": person_id},
                    {"person_id": person_id})


@bp.get("/users/<username>")
@login_required
def user_history(username: str):
    access.require(Permission.AUDIT_READ)
    if len(username) > 64:
        abort(400)
    return _history(f"Activity of {username}", {"username": username}, {"username": username})
