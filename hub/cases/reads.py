"""Every read of case data, as pages and the API both use it.

Each function goes through ``hub.disclosure`` (open, decide, redact, record) and returns
what a page renders or the API serialises; neither builds a body of its own.
"""

from __future__ import annotations

from hub import access, disclosure
from hub.cases import queries, redaction
from hub.policy import Principal


def case_list(who: Principal, args: dict) -> tuple[queries.Page, list[dict]]:
    """A page of the caller's cases, or of a search of them."""
    page = queries.search(who, args["q"], args["page"], args["per_page"])
    decisions = queries.decide_each(who, page.items)
    items = disclosure.read_list(
        "case:search" if args["q"] else "case:list",
        lambda out: [redaction.case_summary(c, decisions[c.id], out) for c in page.items],
        case_ids=[c.id for c in page.items], total=page.total, page=page.page,
        query=bool(args["q"]))
    return page, items


def case(case_id: int) -> disclosure.Read:
    """The whole case as the caller may see it (the API's case)."""
    return disclosure.read(case_id, "case:read", lambda case, decision, out:
                           redaction.case_detail(case, decision, queries.entries(case),
                                                 _agency(), out))


def case_page(case, decision, kind: str | None) -> disclosure.Read:
    """The case page: the case, the summary at its top, and entries of ``kind`` only."""
    entries = queries.entries(case)

    def build(out):
        body = redaction.case_detail(case, decision, entries, _agency(), out, kind=kind)
        overview = redaction.overview(case, decision, entries, _agency(), out,
                                      queries.risk_last_set(case))
        return body, overview, entries

    return disclosure.read_open(case, decision, "case:read", build)


def notes(case_id: int) -> disclosure.Read:
    return disclosure.read(case_id, "entry:list", lambda case, decision, out:
                           redaction.entry_list(case, decision, queries.entries(case),
                                                _agency(), out))


def screening_queue(who: Principal) -> list[dict]:
    """Referrals waiting for the caller to screen, oldest first, each with its referral."""
    cases = queries.screening_queue(who)
    decisions = queries.decide_each(who, cases)
    return disclosure.read_list("referral:list", lambda out: [
        {**redaction.case_summary(c, decisions[c.id], out),
         "referral": redaction.referral_out(queries.referral(c), out)} for c in cases],
        case_ids=[c.id for c in cases])


def _agency() -> str:
    """The kind of agency the caller works for: what an author's narrowing names."""
    return access.principal().agency
