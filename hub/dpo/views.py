"""The DPO's console pages: dashboard, look-ups of people and cases, alert queue, subject
access bundle, retention review. HTTP only: access from hub.access, writes from the dpo
operations, each audited there."""

from __future__ import annotations

from flask import Blueprint, abort, flash, g, redirect, render_template, request, url_for
from flask_login import login_required
from marshmallow import ValidationError

from hub import access
from hub.auditlog import writer as audit
from hub.cases.models import Person
from hub.dpo import alerts, charts, lookups, operations, queries, retention, subject_access
from hub.dpo import dashboard as numbers
from hub.dpo.models import ALERT_OUTCOMES, Alert
from hub.dpo.schemas import (
    AlertCloseIn,
    AlertListIn,
    CaseSearchIn,
    ErasureIn,
    ExemptionIn,
    PersonSearchIn,
)
from hub.errors import OperationError
from hub.extensions import db
from hub.forms import all_errors
from hub.policy import Permission, current_policy

bp = Blueprint("dpo", __name__, url_prefix="/dpo")


def _form(schema) -> tuple[dict | None, dict]:
    try:
        return schema.load({k: v for k, v in request.form.items() if k != "csrf_token"}), {}
    except ValidationError as exc:
        return None, all_errors(exc.messages)


@bp.get("/")
@login_required
def dashboard():
    access.require(Permission.AUDIT_READ)
    figures = {"agency": numbers.accesses_by_agency(), "bg": numbers.break_glass_by_month(),
               "alerts": numbers.alerts_by_month()}
    audit.record_now("dpo:dashboard")
    return render_template(
        "dpo/dashboard.html", figures=figures, open_alerts=numbers.open_alerts(),
        charts={"agency": charts.bar_chart("chart-agency", "Accesses to case data per agency "
                                           "per month", *figures["agency"]),
                "bg": charts.bar_chart("chart-bg", "Break-glass accesses per month",
                                       *figures["bg"]),
                "alerts": charts.bar_chart("chart-alerts", "Alerts opened and closed per "
                                           "month", *figures["alerts"])})


def _search(schema, name: str) -> tuple[str | None, dict]:
    """The text searched for, or the page's errors; (None, {}) when nothing was asked."""
    if not request.args:  # the page itself, before anything was typed
        return None, {}
    try:
        return schema.load(request.args.to_dict())[name].strip(), {}
    except ValidationError as exc:
        return None, all_errors(exc.messages)


@bp.get("/people")
@login_required
def find_person():
    """Find a person by name: one person goes straight to their access history.

    The name typed is personal data, so the audit event keeps only that a name was
    searched for and the ids (and identity classes) of the people it showed."""
    access.require(Permission.AUDIT_READ)
    name, errors = _search(PersonSearchIn(), "name")
    if name is None:
        return render_template("dpo/people.html", errors=errors, name=request.args.get(
            "name", ""), rows=None, more=False), 400 if errors else 200
    rows, more = lookups.find_people(name)
    people = sorted({r.person_id for r in rows})
    audit.record_now("audit:person-search", subject_ids=people, purpose="dpo-review",
                     classes=sorted({lookups.IDENTITY[r.party] for r in rows}
                                    | ({"case.core"} if rows else set())),
                     details={"name_search": True, "total": len(people), "more": more})
    if len(people) == 1 and not more:
        return redirect(url_for("audit.person_history", person_id=people[0]))
    return render_template("dpo/people.html", errors={}, name=name, rows=rows, more=more,
                           people=len(people))


@bp.get("/cases")
@login_required
def find_case():
    """Find a case by its reference, or part of it; an exact reference goes straight to
    who has seen the case. The event keeps the case ids found, not the text typed."""
    access.require(Permission.AUDIT_READ)
    reference, errors = _search(CaseSearchIn(), "reference")
    if reference is None:
        return render_template("dpo/cases.html", errors=errors, reference=request.args.get(
            "reference", ""), rows=None, more=False), 400 if errors else 200
    exact, rows, more = lookups.find_cases(reference)
    found = [exact.id] if exact else [r[0] for r in rows]
    audit.record_now("audit:case-search", purpose="dpo-review", classes=["case.core"] if found
                     else [], details={"reference_search": True, "case_ids": found,
                                       "total": len(found), "more": more})
    if exact is not None:
        return redirect(url_for("audit.case_history", case_id=exact.id))
    return render_template("dpo/cases.html", errors={}, reference=reference, rows=rows,
                           more=more)


@bp.get("/alerts")
@login_required
def alert_list():
    access.require(Permission.ALERT_REVIEW)
    raw = {k: v for k, v in request.args.items() if v != ""}
    try:
        args = AlertListIn().load(raw)
    except ValidationError:
        abort(400)
    rows, total = alerts.listing(args["status"], args["page"])
    audit.record_now("alert:list", details={"status": args["status"], "total": total})
    return render_template("dpo/alerts.html", alerts=rows, total=total, status=args["status"],
                           headlines=alerts.headlines(rows))


def _alert(alert_id: int) -> Alert:
    alert = db.session.get(Alert, alert_id)
    if alert is None:
        abort(404)
    return alert


@bp.get("/alerts/<int:alert_id>")
@login_required
def alert_show(alert_id: int):
    access.require(Permission.ALERT_REVIEW)
    alert = _alert(alert_id)
    audit.record_now("alert:read", case_id=alert.case_id, details={"alert_id": alert.id})
    return _alert_page(alert, {}, {})


def _alert_page(alert: Alert, errors: dict, form, status: int = 200):
    events = alerts.events_of(alert)
    grant = alerts.grant_of(alert)
    reads = [queries.event_out(e) for e in alerts.reads_under(grant)] if grant else None
    seen = events + (reads or [])
    return render_template(
        "dpo/alert.html", alert=alert, errors=errors, form=form, outcomes=ALERT_OUTCOMES,
        events=events, reads=reads, grant=grant, headline=alerts.headlines([alert])[alert.id],
        who=lookups.users_by_id([alert.user_id]).get(alert.user_id),
        names=lookups.display_names(e["username"] for e in seen),
        references=lookups.references([alert.case_id, *(e["case_id"] for e in seen)])), status


@bp.post("/alerts/<int:alert_id>")
@login_required
def alert_close(alert_id: int):
    access.require(Permission.ALERT_REVIEW)
    alert = _alert(alert_id)
    data, errors = _form(AlertCloseIn())
    if not errors:
        try:
            alerts.close(alert, g.user, data["outcome"], data["note"])
        except OperationError as exc:
            errors = {exc.field or "outcome": exc.message}
    if errors:
        return _alert_page(alert, errors, request.form, 400)
    flash(f"Alert {alert.id} closed as {alert.outcome}.")
    return redirect(url_for("dpo.alert_list"))


def _person(person_id: int, action: str) -> Person:
    person = db.session.get(Person, person_id)
    if person is None:
        audit.record_now(action, "denied", rule="no such person",
                         details={"person_id": person_id})
        abort(404)
    return person


def _bundle_page(person: Person, errors: dict, status: int = 200):
    bundle = subject_access.bundle(person.id)
    audit.record_now("subject-access:read", subject_ids=[person.id],
                     classes=sorted(bundle.pop("classes")), purpose="subject-access",
                     details={"person_id": person.id, "format": "page"})
    return render_template("dpo/subject_access.html", bundle=bundle, errors=errors,
                           classes=current_policy().classes,
                           can_erase=access.can(Permission.RETENTION_ERASE)), status



@bp.get("/people/<int:person_id>/subject-access")
@login_required
def subject_access_page(person_id: int):
    access.require(Permission.SUBJECT_ACCESS_READ)
    return _bundle_page(_person(person_id, "subject-access:read"), {})


@bp.post("/people/<int:person_id>/exemptions")
@login_required
def exemption(person_id: int):
    access.require(Permission.SUBJECT_ACCESS_READ)
    person = _person(person_id, "subject-access:exemption")
    data, errors = _form(ExemptionIn())
    if not errors:
        try:
            operations.apply_exemption(person, g.user, data["info_class"], data["reason"])
        except OperationError as exc:
            errors = {exc.field or "class": exc.message}
    if errors:
        return _bundle_page(person, errors, 400)
    flash("Exemption recorded.")
    return redirect(url_for("dpo.subject_access_page", person_id=person_id))


@bp.get("/retention")
@login_required
def retention_queue():
    access.require(Permission.RETENTION_ERASE)
    rows = retention.review_queue()
    audit.record_now("retention:queue", details={"rows": len(rows)})
    return render_template("dpo/retention.html", rows=rows)


@bp.post("/people/<int:person_id>/erase")
@login_required
def erase(person_id: int):
    access.require(Permission.RETENTION_ERASE)
    person = _person(person_id, "person:erase")
    data, errors = _form(ErasureIn())
    if not errors and data["confirm"] != person_id:
        errors = {"confirm": "Type the person's id to confirm erasure"}
    if not errors:
        try:
            retention.erase(person, g.user, data["ground"])
        except OperationError as exc:
            errors = {exc.field or "confirm": exc.message}
    if errors:
        return _bundle_page(person, errors, 400)
    flash(f"Person {person_id}'s data was erased. The audit log keeps the record of it.")
    return redirect(url_for("dpo.subject_access_page", person_id=person_id))
