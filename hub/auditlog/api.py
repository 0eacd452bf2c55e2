"""The DPO's audit routes of the JSON API. DPOs see events and record metadata, never content."""

from flask import abort, jsonify

from hub import access
from hub.api import bp, query_args
from hub.auditlog import queries, subject_access
from hub.auditlog import writer as audit
from hub.auditlog.schemas import AuditSearchIn
from hub.policy import Permission


@bp.get("/audit/events")
def audit_events():
    access.require(Permission.AUDIT_READ)
    args = query_args(AuditSearchIn())
    events, total = queries.page(args, args["page"], args["per_page"])
    reasons = queries.grant_reasons(events)
    filters = {k: str(v) for k, v in args.items() if k not in ("page", "per_page")}
    audit.record_now("audit:search", details={"filters": sorted(filters), "total": total})
    return jsonify(items=[queries.event_out(e, reasons) for e in events], total=total,
                   page=args["page"], per_page=args["per_page"])


@bp.get("/people/<int:person_id>/subject-access")
def person_subject_access(person_id: int):
    access.require(Permission.SUBJECT_ACCESS_READ)
    bundle = subject_access.bundle(person_id)
    if bundle is None:
        audit.record_now("subject-access:read", "denied", rule="no such person",
                         details={"person_id": person_id})
        abort(404)
    audit.record_now("subject-access:read", subject_ids=[person_id],
                     classes=sorted(bundle["classes"]), purpose="subject-access",
                     details={"person_id": person_id})
    bundle.pop("classes")
    return jsonify(bundle)
