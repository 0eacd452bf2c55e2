"""Writes of the front half of the casework (DOMAIN.md, "Casework" 1 to 3): referral,
screening and risk assessment. As in hub.cases.operations, each write and its audit
event commit together, or neither does.
"""

from __future__ import annotations

from flask import current_app
from marshmallow import ValidationError
from sqlalchemy import or_, select

from hub.accounts.models import Agency, Area, User
from hub.auditlog import writer as audit
from hub.cases import location_guard, operations, subjects
from hub.cases.models import Case, Entry, JoinRequest, Membership, Referral, RiskAssessment
from hub.cases.risk_tools import Tool
from hub.errors import Conflict, Forbidden, Invalid
from hub.extensions import db
from hub.policy import CaseDecision
from hub.timeutil import utcnow
from hub.vocabulary import LABELS

COORDINATOR = "coordinator"  #: the role that screens an area's referrals (roles.yaml)
OPEN_REFERRAL = ("referred", "screening")


# -- referral and screening ---------------------------------------------------------------
def create_referral(user: User, data: dict) -> Referral:
    """A referral opens a case in ``referred`` with its people, and puts the person who
    entered it and the area's coordinators on its team, to screen it."""
    perpetrator = data["perpetrator"]  # ReferralIn: a name or an online identifier
    case, written, people = operations._new_case(user, {
        "area": data.get("area"), "summary": data.get("summary"), "status": "referred",
        "referred_on": data.get("referred_on"), "perpetrator": perpetrator,
        "victims": [data["victim"]]})
    referral = Referral(
        case_id=case.id, source=data["source"], referrer_name=data.get("referrer_name"),
        entered_by_id=user.id, agency_id=user.agency_id, referred_on=case.referred_on,
        crime_reference=data.get("crime_reference"),
        consent_to_referral=data["consent_to_referral"],
        consent_to_contact=data["consent_to_contact"], relation=data["relationship"],
        behaviours=sorted(set(data.get("behaviours", []))),
        behaviours_other=data.get("behaviours_other"),
        perpetrator_named=bool(perpetrator.get("name")))
    db.session.add(referral)
    for screener in coordinators(case.area):
        if screener.id != user.id:
            db.session.add(Membership(case=case, user_id=screener.id, added_by_id=user.id))
    db.session.flush()
    audit.record("referral:create", case_id=case.id, classes=written, subject_ids=people,
                 purpose="referral", user=user,
                 details={"referral_id": referral.id, "source": referral.source})
    audit.commit()
    return referral


def coordinators(area: Area) -> list[User]:
    """The active coordinators who screen ``area``'s referrals."""
    return list(db.session.scalars(
        select(User).join(Agency, User.agency_id == Agency.id)
        .where(User.role == COORDINATOR, User.active.is_(True),
               or_(User.area_id == area.id, Agency.area_id == area.id))
        .order_by(User.id)))


def decide_referral(user: User, case: Case, decision: CaseDecision, referral: Referral,
                    data: dict) -> Referral:
    """Accept (the case opens), decline with a reason, or signpost elsewhere (the case
    closes); decided once."""
    if referral.decision is not None or case.status not in OPEN_REFERRAL:
        raise Conflict("this referral has been screened already", "decision")
    if not decision.can_write("case.core"):
        raise Forbidden("your agency may not screen this referral")
    reason = (data.get("reason") or "").strip() or None
    if data["decision"] != "accept" and reason is None:
        raise Invalid(f"give a reason to {data['decision']} the referral", "reason")
    location_guard.check_case(user, case, reason, field="reason", info_class="case.core")
    today = utcnow().date()
    referral.decision, referral.decision_reason = data["decision"], reason
    referral.decided_by_id, referral.decided_at = user.id, utcnow()
    if data["decision"] == "accept":
        case.status, case.accepted_on = "accepted", today
    else:
        case.status, case.closed_on = "closed", today
    operations.record_status(user, case, reason)
    case.version += 1
    audit.record("referral:decide", case_id=case.id, classes=["case.core"], user=user,
                 details={"referral_id": referral.id, "decision": referral.decision,
                          "status": case.status, "version": case.version})
    audit.commit()
    return referral


# -- risk assessment ------------------------------------------------------------------------
KIND = "risk_assessment"


def tools() -> dict[str, Tool]:
    return current_app.extensions["hub.risk_tools"]


def tools_for(decision: CaseDecision) -> dict[str, Tool]:
    """The tools whose answers the caller may write on the case: those they may complete."""
    return {t.id: t for t in tools().values()
            if decision.can_write_entry(t.answers_class, KIND)}


def add_risk_assessment(user: User, case: Case, decision: CaseDecision,
                        data: dict) -> RiskAssessment:
    """Score the answers, keep the assessor's level (with their reason when it differs
    from the suggestion), and make it the case's risk level.

    Who may write the tool's answers (an assessment's entry in their class) completes it:
    police and advocacy take the victim's answers to S-DASH, a clinical form is NHS's. Its
    score and level are then the case's (case.core), read by the whole team.
    """
    tool = tools().get(data["tool"])
    if tool is None:
        raise Invalid(f"unknown tool; the tools are: {', '.join(sorted(tools()))}", "tool")
    if not decision.can_write_entry(tool.answers_class, KIND):
        raise Forbidden(f"your agency may not record {tool.name} answers ({tool.answers_class})"
                        " on this case", "tool")
    try:
        answers = tool.check(data["answers"])
    except ValidationError as exc:
        field, messages = next(iter(exc.messages.items()))
        raise Invalid(f"{field}: {messages[0]}", field) from None
    suggested = tool.suggest(answers)
    level = data.get("level") or suggested
    reason = (data.get("override_reason") or "").strip() or None
    if level != suggested and reason is None:
        raise Invalid(f"The answers suggest {LABELS[suggested].lower()}: give a reason for "
                      f"setting {LABELS[level].lower()}", "override_reason")
    shared = (data.get("shared_summary") or "").strip() or None
    if shared and tool.summary_class is None:
        raise Invalid(f"{tool.name} has no shared summary", "shared_summary")
    if shared and not decision.can_write_entry(tool.summary_class, KIND):
        raise Forbidden(f"your agency may not write {tool.summary_class} on this case",
                        "shared_summary")
    location_guard.check_case(user, case, reason, field="override_reason",
                              info_class="case.core", kind=KIND)
    location_guard.check_case(user, case, shared, field="shared_summary",
                              info_class=tool.summary_class, kind=KIND)
    score = tool.score(answers)
    core = _entry(user, case, "case.core", _summary(tool, score, suggested, level, reason),
                  override_reason=reason)
    detail = _entry(user, case, tool.answers_class, _answers_text(tool, answers),
                    tool=tool.id, answers=answers)
    summary = _entry(user, case, tool.summary_class, shared) if shared else None
    assessment = RiskAssessment(
        case_id=case.id, tool=tool.id, score=score, suggested_level=suggested, level=level,
        review_on=data.get("review_on"), assessor_id=user.id, agency_id=user.agency_id,
        core_entry_id=core.id, answers_entry_id=detail.id,
        summary_entry_id=summary.id if summary else None)
    db.session.add(assessment)
    review_on = assessment.review_on or case.next_review_on
    if (case.risk_level, case.next_review_on) != (level, review_on):
        case.risk_level, case.next_review_on = level, review_on
        case.version += 1  # a form showing the old level or date is now stale
    db.session.flush()
    entries = [e for e in (core, detail, summary) if e is not None]
    audit.record("risk-assessment:create", case_id=case.id,
                 classes=sorted({e.info_class for e in entries}),
                 subject_ids=sorted({p for e in entries for p in subjects.people_of(e, case)}),
                 user=user, details={"assessment_id": assessment.id, "tool": tool.id,
                                     "level": level, "suggested_level": suggested,
                                     "entry_ids": [e.id for e in entries]})
    audit.commit()
    return assessment


def _entry(user: User, case: Case, info_class: str, body: str, **structured) -> Entry:
    entry = Entry(case_id=case.id, kind=KIND, info_class=info_class, author_id=user.id,
                  author_agency_id=user.agency_id,
                  subject_person_id=subjects.link(case, info_class, None))
    db.session.add(entry)
    db.session.flush()
    operations.write_version(case, entry, user, body, **structured)
    return entry


def _summary(tool: Tool, score, suggested: str, level: str, reason: str | None) -> str:
    scored = f"{score} of {sum(q.type == 'yes_no' for q in tool.questions)} yes; " \
        if score is not None else ""
    text = f"{tool.name}: {scored}suggests {LABELS[suggested].lower()}; " \
           f"level set {LABELS[level].lower()}."
    return f"{text} Reason: {reason}" if reason else text


def _answers_text(tool: Tool, answers: dict) -> str:
    def said(q):
        value = answers[q.id]
        if q.type == "yes_no":
            return "Yes" if value else "No"
        return LABELS.get(value, value.replace("_", " ").capitalize()) \
            if q.type != "text" else value
    return "\n".join(f"{q.text} {said(q)}" for q in tool.questions)


# -- already known? asking to join the case that matched ----------------------------------
def ask_to_join(user: User, case: Case, found: Case) -> JoinRequest:
    """Ask ``found``'s team to let the caller join it. Only a case that "already known?"
    matched may be asked for (the caller checks): nobody learns of any other this way."""
    pending = db.session.scalar(select(JoinRequest).where(
        JoinRequest.case_id == found.id, JoinRequest.user_id == user.id,
        JoinRequest.decision.is_(None)))
    if pending is not None:
        raise Conflict("you have asked to join this case already", "case_id")
    request = JoinRequest(case_id=found.id, from_case_id=case.id, user_id=user.id)
    db.session.add(request)
    db.session.flush()
    audit.record("case:join-request", case_id=found.id, classes=["case.core"], user=user,
                 details={"join_request_id": request.id, "from_case_id": case.id})
    audit.commit()
    return request


def decide_join(user: User, case: Case, request: JoinRequest, decision: str) -> JoinRequest:
    """The team approves (the person joins it by name) or refuses, once."""
    if request.decision is not None:
        raise Conflict("this request has been decided already", "decision")
    request.decision, request.decided_by_id, request.decided_at = decision, user.id, utcnow()
    if decision == "approve" and not any(
            m.user_id == request.user_id and m.removed_at is None for m in case.members):
        db.session.add(Membership(case=case, user_id=request.user_id, added_by_id=user.id))
    db.session.flush()
    audit.record("case:join-decide", case_id=case.id, classes=["case.core"], user=user,
                 details={"join_request_id": request.id, "decision": decision,
                          "member_user_id": request.user_id})
    audit.commit()
    return request
