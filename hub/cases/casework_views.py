"""Casework pages: referral intake, the coordinator's screening queue and decision, and
risk assessments. HTTP only, as hub.cases.casework_api: access from hub.access, writes
from hub.cases.casework, case data from redaction through hub.disclosure."""

from __future__ import annotations

from flask import Blueprint, flash, g, redirect, render_template, request, url_for
from flask_login import login_required
from marshmallow import ValidationError

from hub import access, disclosure
from hub.cases import casework, matching, queries, reads, redaction, schemas
from hub.cases.views import _require_write
from hub.cases.views import bp as cases_bp
from hub.errors import OperationError
from hub.forms import all_errors
from hub.policy import Permission
from hub.vocabulary import BEHAVIOURS, LABELS, REFERRAL_SOURCES, RELATIONSHIPS, RISK_LEVELS
from hub.web.formatting import parse_date

bp = Blueprint("referrals", __name__, url_prefix="/referrals")

# What each field's error says on the page, GOV.UK style: (when empty, when wrong).
_REFERRAL_WORDS = {
    "source": ("Select who made the referral", "Select who made the referral"),
    "referred_on": ("Enter the date of the referral",
                    "Enter a real date of referral, today or earlier, like 24/11/2026"),
    "consent_to_referral": ("Select whether she agreed to the referral",) * 2,
    "consent_to_contact": ("Select whether she agreed to be contacted",) * 2,
    "relationship": ("Select how she knows the perpetrator",) * 2,
    "behaviours_other": ("Say what the other behaviour is",) * 2,
    "victim.name": ("Enter the victim's full name",
                    "The victim's full name must be 200 characters or fewer"),
    "victim.phone": (None, "Enter a phone number of up to 40 digits and spaces, like "
                           "07700 900982"),
    "victim.email": (None, "Enter an email address in the correct format, like "
                           "name@example.com"),
    "perpetrator.name": ("Enter the perpetrator's name, or at least one online identifier",) * 2,
    "perpetrator.date_of_birth": (None, "Enter a real date of birth, like 14/03/1984"),
    "perpetrator.pnc_id": (None, "Enter a PNC ID in the correct format, like 2004/0112233X"),
}


def _dated(form, name: str, errors: dict, into: dict, key: str) -> None:
    text = form.get(name, "").strip()
    if not text:
        return
    try:
        into[key] = parse_date(text).isoformat()
    except ValueError:
        errors[name] = _REFERRAL_WORDS.get(name, (None, "Enter a real date"))[1]


def _yes_no(value: str | None):
    return {"yes": True, "no": False}.get(value or "")


def _referral_data(form) -> tuple[dict, dict]:
    """The intake form as ReferralIn takes it, with the date errors found on the way."""
    errors: dict = {}
    perpetrator = {k: v for k, v in {
        "name": form.get("perpetrator.name", "").strip(),
        "pnc_id": form.get("perpetrator.pnc_id", "").strip().upper(),
        "online_identifiers": [line.strip() for line in
                               form.get("perpetrator.online_identifiers", "").splitlines()
                               if line.strip()]}.items() if v}
    _dated(form, "perpetrator.date_of_birth", errors, perpetrator, "date_of_birth")
    victim = {k: v for k, v in {f: form.get(f"victim.{f}", "").strip() for f in (
        "name", "phone", "email", "address", "safe_contact")}.items() if v or k == "name"}
    data = {k: v for k, v in {
        "source": form.get("source"), "referrer_name": form.get("referrer_name", "").strip(),
        "crime_reference": form.get("crime_reference", "").strip(),
        "consent_to_referral": _yes_no(form.get("consent_to_referral")),
        "consent_to_contact": _yes_no(form.get("consent_to_contact")),
        "relationship": form.get("relationship"),
        "behaviours": form.getlist("behaviours"),
        "behaviours_other": form.get("behaviours_other", "").strip(),
        "summary": form.get("summary", "").strip(),
        "victim": victim, "perpetrator": perpetrator}.items() if v not in (None, "")}
    _dated(form, "referred_on", errors, data, "referred_on")
    return data, errors


# The intake form's fields in page order: its error summary lists problems in this order.
_REFERRAL_ORDER = ("source", "referrer_name", "referred_on", "crime_reference", "victim.name",
                   "consent_to_referral", "consent_to_contact", "victim.phone", "victim.email",
                   "victim.address", "victim.safe_contact", "perpetrator.name",
                   "perpetrator.date_of_birth", "perpetrator.pnc_id",
                   "perpetrator.online_identifiers",
                   "relationship", "behaviours", "behaviours_other", "summary")


def _worded(found: dict, form) -> dict:
    """The problems in GOV.UK words, in page order. A perpetrator with neither a name nor
    an identifier is shown at his name, the first field that would put it right."""
    out = {}
    for key, message in found.items():
        key = "behaviours" if key.startswith("behaviours.") else key
        key = "perpetrator.name" if key == "perpetrator" else key
        empty, wrong = _REFERRAL_WORDS.get(key, (None, message))
        out[key] = empty if empty and not form.get(key, "").strip() else (wrong or message)
    return _in_page_order(out)


def _in_page_order(errors: dict) -> dict:
    place = {name: i for i, name in enumerate(_REFERRAL_ORDER)}
    return dict(sorted(errors.items(), key=lambda item: place.get(item[0], len(place))))


@bp.route("/new", methods=["GET", "POST"])
@login_required
def new():
    """Referral intake: for police, advocacy and coordinators (those who open cases)."""
    access.require(Permission.CASE_CREATE)
    errors, form = {}, request.form
    if request.method == "POST":
        data, errors = _referral_data(form)
        try:
            loaded = schemas.ReferralIn().load(data)
        except ValidationError as exc:  # named with the date errors: every problem at once
            errors = _in_page_order({**errors, **_worded(all_errors(exc.messages), form)})
        if not errors:
            try:
                referral = casework.create_referral(g.user, loaded)
            except OperationError as exc:
                errors = {exc.field or "summary": exc.message}
            else:
                flash(f"Referral received: case {referral.case.reference} is waiting for "
                      "screening.")
                return redirect(url_for("cases.show", case_id=referral.case_id))
    return render_template("casework/referral_new.html", errors=errors, form=form,
                           sources=REFERRAL_SOURCES, relationships=RELATIONSHIPS,
                           behaviours=BEHAVIOURS), 400 if errors else 200


@bp.get("/")
@login_required
def queue():
    """The coordinator's screening queue: referrals waiting, oldest first."""
    items = reads.screening_queue(access.require(Permission.REFERRAL_SCREEN))
    return render_template("casework/queue.html", items=items)


@bp.route("/<int:referral_id>", methods=["GET", "POST"])
@login_required
def screen(referral_id: int):
    """One referral as its coordinator screens it: the referral, then the decision."""
    access.require(Permission.REFERRAL_SCREEN)
    referral = access.found(queries.referral_by_id(referral_id), "referral:decide",
                            referral_id=referral_id)
    case, decision = access.open_case_as_member(referral.case_id, "referral:decide")
    errors, form = {}, request.form
    if request.method == "POST":
        data = {k: v for k, v in {"decision": form.get("decision"),
                                  "reason": form.get("reason", "").strip()}.items() if v}
        try:
            casework.decide_referral(g.user, case, decision, referral,
                                     schemas.DecisionIn().load(data))
        except ValidationError:
            errors = {"decision": "Select whether to accept, decline or signpost the referral"}
        except OperationError as exc:
            errors = {exc.field or "decision": _DECISION_WORDS.get(exc.field, exc.message)}
        else:
            flash({"accept": f"Referral accepted: case {case.reference} is open.",
                   "decline": "Referral declined.",
                   "signpost": "Referral signposted elsewhere."}[referral.decision])
            return redirect(url_for("cases.show", case_id=case.id))
    found = matching.answer(case, decision)  # what it learns of other cases, on their record
    read = disclosure.read_open(case, decision, "case:read", lambda out: redaction.case_detail(
        case, decision, [], access.principal().agency, out))
    return render_template("casework/screen.html", case=read.body, referral_id=referral.id,
                           matches=found, errors=errors, form=form), 400 if errors else 200


@bp.post("/<int:referral_id>/join")
@login_required
def ask_to_join(referral_id: int):
    """Ask the team of a case this referral matched to let the coordinator join it."""
    access.require(Permission.REFERRAL_SCREEN)
    referral = access.found(queries.referral_by_id(referral_id), "case:join-request",
                            referral_id=referral_id)
    case, decision = access.open_case_as_member(referral.case_id, "case:join-request")
    found = matching.matches(case, sees_location=decision.can_read("victim.location"))
    wanted = request.form.get("case_id", "")
    other = next((m for m in found if str(m.case_id) == wanted), None)
    other_case = access.found(queries.case_for_view(other.case_id) if other else None,
                              "case:join-request", requested_case_id=wanted[:20])
    try:
        casework.ask_to_join(g.user, case, other_case)
    except OperationError as exc:
        flash(exc.message[0].upper() + exc.message[1:] + ".", "error")
    else:
        flash(f"You have asked to join case {other.reference}. Its team will decide.")
    return redirect(url_for(".screen", referral_id=referral.id))


@cases_bp.post("/<int:case_id>/join-requests/<int:request_id>")
@login_required
def decide_join(case_id: int, request_id: int):
    """Approve or refuse a request to join this case."""
    access.require(Permission.CASE_MEMBER_ADD, case_id)
    case, _decision = access.open_case_as_member(case_id, "case:join-decide")
    join = queries.join_request(request_id)
    join = access.found(join if join is not None and join.case_id == case.id else None,
                        "case:join-decide", join_request_id=request_id)
    decision = request.form.get("decision")
    if decision not in ("approve", "refuse"):
        flash("Choose whether to approve or refuse the request.", "error")
        return redirect(url_for("cases.show", case_id=case.id) + "#join-requests")
    try:
        casework.decide_join(g.user, case, join, decision)
    except OperationError as exc:
        flash(exc.message[0].upper() + exc.message[1:] + ".", "error")
    else:
        outcome = "joins the case team" if decision == "approve" else "will not join the team"
        flash(f"{join.user.display_name} {outcome}.")
    return redirect(url_for("cases.show", case_id=case.id))


_DECISION_WORDS = {"reason": "Give the reason for declining or signposting the referral"}


# -- risk assessments, on the case's own pages ---------------------------------------------
@cases_bp.route("/<int:case_id>/risk-assessments/new", methods=["GET", "POST"])
@login_required
def assess(case_id: int):
    """Choose a tool, then answer its questions; the level becomes the case's."""
    access.require(Permission.ENTRY_CREATE, case_id)
    case, decision = access.open_case(case_id, "risk-assessment:create")
    tools = casework.tools_for(decision)
    asked = casework.tools().get(request.values.get("tool", ""))
    if asked is not None and request.method == "POST" and asked.id not in tools:
        _require_write(case, decision, asked.answers_class, "risk-assessment:create")
    tool = tools.get(asked.id) if asked else None
    errors, form = {}, request.form
    if request.method == "POST" and tool is not None:
        data, errors = _assessment_data(tool, form)
        try:
            tool.check(data.get("answers", {}))  # every unanswered question, not the first
        except ValidationError as exc:
            errors.update(_assessment_words(tool, all_errors(exc.messages)))
        if not errors:
            try:
                made = casework.add_risk_assessment(
                    g.user, case, decision, schemas.RiskAssessmentIn().load(data))
            except ValidationError as exc:
                errors = _assessment_words(tool, all_errors(exc.messages))
            except OperationError as exc:
                errors = _assessment_words(tool, {exc.field or "tool": exc.message})
            else:
                flash(f"{tool.name} recorded. The case's risk level is "
                      f"{LABELS[made.level].lower()}.")
                return redirect(url_for("cases.show", case_id=case.id) + "#risk")
    elif request.method == "POST" or "tool" in request.args:
        errors = {"tool": "Select a risk assessment tool"}
    page = disclosure.read_open(case, decision, "case:read", lambda out: redaction.case_summary(
        case, decision, out)).body
    return render_template("casework/assess.html", case=page, tools=tools, tool=tool,
                           errors=errors, form=form, risk_levels=RISK_LEVELS), \
        400 if errors else 200


def _assessment_data(tool, form) -> tuple[dict, dict]:
    answers, errors = {}, {}
    for q in tool.questions:
        value = form.get(f"answers.{q.id}", "").strip()
        if q.type == "yes_no":
            value = _yes_no(value)
        if value not in (None, ""):
            answers[q.id] = value
    data = {k: v for k, v in {
        "tool": tool.id, "level": form.get("level") or None,
        "override_reason": form.get("override_reason", "").strip(),
        "shared_summary": form.get("shared_summary", "").strip()}.items() if v}
    data["answers"] = answers
    review = form.get("review_on", "").strip()
    if review:
        try:
            data["review_on"] = parse_date(review).isoformat()
        except ValueError:
            errors["review_on"] = "Enter a real review date, like 24/11/2027"
    return data, errors


def _assessment_words(tool, found: dict) -> dict:
    """Errors in words: an unanswered question is named by its number and text."""
    numbers = {f"answers.{q.id}": (i, q) for i, q in enumerate(tool.questions, start=1)}
    out = {}
    for key, message in found.items():
        if key in numbers and ("required" in message or "empty" in message):
            number, q = numbers[key]
            message = f"Answer question {number}: {q.text}" if q.type != "text" \
                else f"Say {q.text[0].lower()}{q.text[1:]}"
        elif key in numbers:
            message = message.split(": ", 1)[-1]
        elif key == "review_on":
            message = "The review date must be today or later"
        out[key] = message
    return out
