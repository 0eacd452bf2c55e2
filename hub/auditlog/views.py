"""The DPO's audit pages: search with filters, and a case's access history."""

from __future__ import annotations

from flask import Blueprint, render_template, request
from flask_login import login_required
from marshmallow import ValidationError

from hub import access
from hub.api import _first
from hub.auditlog import queries
from hub.auditlog import writer as audit
from hub.auditlog.models import OUTCOMES
from hub.auditlog.schemas import AuditSearchIn
from hub.policy import Permission

bp = Blueprint("audit", __name__, url_prefix="/audit")

FILTERS = ("username", "agency", "role", "action", "outcome", "case_id", "person_id",
           "since", "until", "break_glass")


@bp.get("/")
@login_required
def events():
    access.require(Permission.AUDIT_READ)
    raw = {k: v for k, v in request.args.items() if v != ""}
    try:
        args = AuditSearchIn().load(raw)
    except ValidationError as exc:
        field, message = _first(exc.messages)
        return render_template("audit/events.html", events=[], total=0, args=raw,
                               errors={field: message}, outcomes=OUTCOMES, page=1, pages=1,
                               filters={}), 400
    rows, total = queries.page(args, args["page"], args["per_page"])
    audit.record_now("audit:search", details={"filters": sorted(set(raw) - {"page"}),
                                              "total": total})
    reasons = queries.grant_reasons(rows)
    return render_template(
        "audit/events.html", events=[queries.event_out(e, reasons) for e in rows],
        total=total, args=raw, errors={}, outcomes=OUTCOMES, page=args["page"],
        pages=max(1, -(-total // args["per_page"])),
        filters={k: v for k, v in raw.items() if k != "page"})
