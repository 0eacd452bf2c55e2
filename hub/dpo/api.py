"""The DPO's routes of the JSON API. DPOs see events and record metadata, never case content,
except in the subject access bundle. Every route checks its permission first and records
its own access to the log before it answers."""

from __future__ import annotations

from flask import Response, g, jsonify

from hub import access
from hub.api import BadInput, bp, load, query_args
from hub.auditlog import writer as audit
from hub.cases.models import Person
from hub.dpo import alerts, exports, operations, queries, retention, subject_access
from hub.dpo.models import Alert
from hub.dpo.schemas import (
    AlertCloseIn,
    AlertListIn,
    AuditFilterIn,
    AuditSearchIn,
    ErasureIn,
    ExemptionIn,
    HistoryIn,
)
from hub.extensions import db
from hub.policy import Permission

CSV_TYPE = "text/csv; charset=utf-8"


def _filter_names(args: dict) -> list[str]:
    return sorted(k for k in args if k not in ("page", "per_page"))


@bp.get("/audit/events")
def audit_events():
    access.require(Permission.AUDIT_READ)
    args = query_args(AuditSearchIn())
    events, total = queries.page(args, args["page"], args["per_page"])
    reasons = queries.grant_reasons(events)
    audit.record_now("audit:search", details={"filters": _filter_names(args), "total": total})
    return jsonify(items=[queries.event_out(e, reasons) for e in events], total=total,
                   page=args["page"], per_page=args["per_page"])


@bp.get("/audit/events.csv")
def audit_export():
    access.require(Permission.AUDIT_READ)
    args = query_args(AuditFilterIn())
    try:
        text, rows = exports.events_csv(args)
    except exports.TooMany as exc:
        raise BadInput(str(exc)) from None
    audit.record_now("audit:export", purpose="dpo-review",
                     details={"filters": _filter_names(args), "rows": rows, "format": "csv"})
    return Response(text, mimetype="text/csv", headers={
        "Content-Type": CSV_TYPE, "Content-Disposition": 'attachment; filename="audit.csv"'})


def _history(kind: str, value, filters: dict):
    args = {**query_args(HistoryIn()), **filters}
    rows = queries.history(args)
    audit.record_now("audit:history", case_id=filters.get("case_id"),
                     details={kind: value, "rows": len(rows)})
    return jsonify(items=rows, total=len(rows))


@bp.get("/audit/cases/<int:case_id>/history")
def case_history(case_id: int):
    access.require(Permission.AUDIT_READ)
    return _history("case_id", case_id, {"case_id": case_id})


@bp.get("/audit/people/<int:person_id>/history")
def person_history(person_id: int):
    access.require(Permission.AUDIT_READ)
    return _history("person_id", person_id, {"person_id": person_id})


@bp.get("/audit/users/<username>/history")
def user_history(username: str):
    access.require(Permission.AUDIT_READ)
    if len(username) > 64:
        raise BadInput("username: longer than 64 characters", "username")
    return _history("username", username, {"username": username})


@bp.get("/people/<int:person_id>/subject-access")
def person_subject_access(person_id: int):
    access.require(Permission.SUBJECT_ACCESS_READ)
    bundle = subject_access.bundle(person_id)
    if bundle is None:
        audit.record_now("subject-access:read", "denied", rule="no such person",
                         details={"person_id": person_id})
        return access.abort(404)
    audit.record_now("subject-access:read", subject_ids=[person_id],
                     classes=sorted(bundle.pop("classes")), purpose="subject-access",
                     details={"person_id": person_id})
    return jsonify(bundle)


def _person(person_id: int, action: str) -> Person:
    person = db.session.get(Person, person_id)
    if person is None:
        audit.record_now(action, "denied", rule="no such person",
                         details={"person_id": person_id})
        access.abort(404)
    return person


@bp.post("/people/<int:person_id>/exemptions")
def person_exemption(person_id: int):
    access.require(Permission.SUBJECT_ACCESS_READ)
    person = _person(person_id, "subject-access:exemption")
    data = load(ExemptionIn())
    exemption = operations.apply_exemption(person, g.user, data["info_class"], data["reason"])
    return jsonify(id=exemption.id, person_id=person_id, info_class=exemption.info_class), 201


@bp.post("/people/<int:person_id>/erasure")
def person_erasure(person_id: int):
    access.require(Permission.RETENTION_ERASE)
    person = _person(person_id, "person:erase")
    data = load(ErasureIn())
    if data["confirm"] != person_id:
        raise BadInput("confirm: type the person's id to confirm erasure", "confirm")
    erasure = retention.erase(person, g.user, data["ground"])
    return jsonify(person_id=person_id, erased_at=erasure.at.isoformat(), what=erasure.what), 201


@bp.get("/dpo/retention/queue")
def retention_queue():
    access.require(Permission.RETENTION_ERASE)
    rows = retention.review_queue()
    audit.record_now("retention:queue", details={"rows": len(rows)})
    return jsonify(items=[{**r, "due_on": r["due_on"].isoformat()} for r in rows],
                   total=len(rows))


@bp.get("/dpo/alerts")
def alert_list():
    access.require(Permission.ALERT_REVIEW)
    args = query_args(AlertListIn())
    rows, total = alerts.listing(args["status"], args["page"])
    audit.record_now("alert:list", details={"status": args["status"], "total": total})
    return jsonify(items=[alerts.alert_out(a) for a in rows], total=total, page=args["page"])


def _alert(alert_id: int) -> Alert:
    alert = db.session.get(Alert, alert_id)
    if alert is None:
        access.abort(404)
    return alert


@bp.get("/dpo/alerts/<int:alert_id>")
def alert_show(alert_id: int):
    access.require(Permission.ALERT_REVIEW)
    alert = _alert(alert_id)
    audit.record_now("alert:read", case_id=alert.case_id, details={"alert_id": alert.id})
    return jsonify(alerts.alert_out(alert))


@bp.post("/dpo/alerts/<int:alert_id>/close")
def alert_close(alert_id: int):
    access.require(Permission.ALERT_REVIEW)
    alert = _alert(alert_id)
    data = load(AlertCloseIn())
    return jsonify(alerts.alert_out(alerts.close(alert, g.user, data["outcome"], data["note"])))
