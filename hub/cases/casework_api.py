"""Casework routes of the JSON API: referral, screening and risk assessment (CONTRACT.md,
"Casework"). HTTP only: access from hub.access, writes from hub.cases.casework, every
body that carries case data from redaction through hub.disclosure."""

from flask import g, jsonify

from hub import access, disclosure
from hub.api import bp, load
from hub.auditlog import writer as audit
from hub.cases import casework, matching, queries, reads, redaction, schemas
from hub.policy import Permission


@bp.post("/referrals")
def create_referral():
    """A referral from the Helpline, a partner or the victim: a case in `referred`, on the
    team of whoever entered it and of the area's coordinators."""
    access.require(Permission.CASE_CREATE)
    referral = casework.create_referral(g.user, load(schemas.ReferralIn()))
    case, decision = access.open_case(referral.case_id, "referral:create")
    # The case's summary, under the referral's own id (the one screening names).
    return jsonify(disclosure.answer_write(audit.last_event(), lambda out: {
        **redaction.case_summary(case, decision, out), "id": referral.id,
        "case_id": case.id})), 201


@bp.get("/referrals")
def screening_queue():
    """The referrals waiting for the caller to screen them, oldest first."""
    items = reads.screening_queue(access.require(Permission.REFERRAL_SCREEN))
    return jsonify(items=items, total=len(items))


@bp.post("/referrals/<int:referral_id>/decision")
def decide_referral(referral_id: int):
    """Accept (the case opens), decline with a reason, or signpost elsewhere."""
    access.require(Permission.REFERRAL_SCREEN)
    referral = access.found(queries.referral_by_id(referral_id), "referral:decide",
                            referral_id=referral_id)
    case, decision = access.open_case_as_member(referral.case_id, "referral:decide")
    data = load(schemas.DecisionIn())
    casework.decide_referral(g.user, case, decision, referral, data)
    accepted = referral.decision == "accept"
    return jsonify(id=referral.id, decision=referral.decision, status=case.status,
                   **({"case_id": case.id} if accepted else {}))


@bp.get("/risk-tools")
def risk_tools():
    """The risk assessment tools: their questions, answer types and scoring (no case data)."""
    access.principal()
    return jsonify(items=[{
        "tool": t.id, "name": t.name, "answers_class": t.answers_class,
        "summary_class": t.summary_class,
        "scoring": {"count_yes": t.count_yes} if t.count_yes else
                   {"highest_judgement": t.highest_judgement},
        "questions": [{"id": q.id, "type": q.type, "text": q.text,
                       **({"options": list(q.options)} if q.options else {})}
                      for q in t.questions]} for t in casework.tools().values()])


@bp.post("/cases/<int:case_id>/risk-assessments")
def add_risk_assessment(case_id: int):
    """Score the answers; the assessor's level (with a reason when it differs from the
    suggestion) becomes the case's risk level."""
    access.require(Permission.ENTRY_CREATE, case_id)
    case, decision = access.open_case(case_id, "risk-assessment:create")
    assessment = casework.add_risk_assessment(g.user, case, decision,
                                              load(schemas.RiskAssessmentIn()))
    return jsonify(id=assessment.id, tool=assessment.tool, score=assessment.score,
                   suggested_level=assessment.suggested_level, level=assessment.level,
                   review_on=assessment.review_on.isoformat() if assessment.review_on
                   else None, case_risk_level=case.risk_level), 201


# -- already known? ---------------------------------------------------------------------------
def _match_answer(referral_id: int, action: str):
    """The referral's case (its coordinator on the team) and the cases it matches, the
    answer recorded on each of them before it is given."""
    access.require(Permission.REFERRAL_SCREEN)
    referral = access.found(queries.referral_by_id(referral_id), action,
                            referral_id=referral_id)
    case, decision = access.open_case_as_member(referral.case_id, action)
    return case, matching.answer(case, decision)


def match_out(match: matching.Match) -> dict:
    return {"case_id": match.case_id, "reference": match.reference, "area": match.area,
            "open": match.open, "known_to": list(match.known_to),
            "matched": list(match.matched)}


@bp.get("/referrals/<int:referral_id>/matches")
def referral_matches(referral_id: int):
    """Already known? Other cases of the area sharing an identifier with its people: only
    their reference, area, team agencies, whether open, and what matched."""
    _case, found = _match_answer(referral_id, "case:match-check")
    return jsonify(items=[match_out(m) for m in found])


@bp.post("/referrals/<int:referral_id>/join")
def ask_to_join(referral_id: int):
    """Ask the team of a case the referral matched to let the caller join it."""
    case, found = _match_answer(referral_id, "case:join-request")
    wanted = load(schemas.JoinIn())["case_id"]
    other = next((m for m in found if m.case_id == wanted), None)
    other_case = access.found(queries.case_for_view(wanted) if other else None,
                              "case:join-request", requested_case_id=wanted)
    request = casework.ask_to_join(g.user, case, other_case)
    return jsonify(id=request.id, case_id=other_case.id), 201


@bp.post("/join-requests/<int:request_id>/decision")
def decide_join(request_id: int):
    """The team of the case approves (the person joins by name) or refuses a request."""
    access.require(Permission.CASE_MEMBER_ADD)
    request = access.found(queries.join_request(request_id), "case:join-decide",
                           join_request_id=request_id)
    case, _decision = access.open_case_as_member(request.case_id, "case:join-decide")
    data = load(schemas.JoinDecisionIn())
    casework.decide_join(g.user, case, request, data["decision"])
    return jsonify(id=request.id, decision=request.decision)
