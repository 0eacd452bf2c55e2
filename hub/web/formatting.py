"""Plain words for people: UK dates in London time, and names instead of codes.

Templates use these as filters (``{{ case.referred_on | uk_date }}``); forms that take a
date accept what a person types (24/11/2026, 24 11 2026, 2026-11-24) through ``parse_date``.
"""

from __future__ import annotations

import re
from datetime import date, datetime
from zoneinfo import ZoneInfo

LONDON = ZoneInfo("Europe/London")

# Each information class in plain words; the code stays available in a details element.
CLASS_LABELS = {
    "case.core": "Case details",
    "perpetrator.identity": "Perpetrator's identity",
    "perpetrator.offending": "Offending history",
    "intelligence": "Police intelligence",
    "clinical": "Clinical notes",
    "clinical.summary": "Clinical summary",
    "victim.identity": "Victim's identity",
    "victim.location": "Victim's address and contact details",
    "victim.support": "Victim support and safety planning",
    "legal": "Legal advice (privileged)",
    "legal.outcome": "Charging and court outcomes",
    "orders": "Orders and breaches",
    "supervision": "Probation supervision",
}

# Agencies as a caseworker says them; an agency not listed shows its own name.
AGENCY_LABELS = {"police": "Police", "nhs": "NHS", "probation": "Probation",
                 "cps": "CPS", "advocacy": "Advocacy service", "hub": "Hub staff"}


def class_label(code: str | None) -> str:
    return CLASS_LABELS.get(code or "", code or "")


def agency_label(code: str | None) -> str:
    """The demo's agencies as caseworkers say them; any other by the name it was given."""
    if not code:
        return ""
    return AGENCY_LABELS.get(code) or _agency_names().get(code, code)


def _agency_names() -> dict[str, str]:
    """Agencies an administrator created, by code: read once per request."""
    from flask import g, has_app_context

    if not has_app_context():
        return {}
    if "hub_agency_names" not in g:
        from sqlalchemy import select

        from hub.accounts.models import Agency
        from hub.extensions import db

        g.hub_agency_names = dict(db.session.execute(select(Agency.code, Agency.name)).all())
    return g.hub_agency_names


def join_and(words: list[str]) -> str:
    """"a", "a and b", "a, b and c"."""
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _as_date(value) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value else date.fromisoformat(value)
    if isinstance(value, datetime):
        return value.astimezone(LONDON).date() if value.tzinfo else value.date()
    return value


def uk_date(value) -> str:
    """24 November 2026 (GOV.UK style), from a date, an aware datetime or ISO text."""
    day = _as_date(value)
    return f"{day.day} {day:%B %Y}" if day else ""


def uk_datetime(value) -> str:
    """24 November 2026 at 2:05pm, in London time."""
    if value in (None, ""):
        return ""
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    local = value.astimezone(LONDON) if value.tzinfo else value
    hour = local.hour % 12 or 12
    return f"{local.day} {local:%B %Y} at {hour}:{local:%M}{'am' if local.hour < 12 else 'pm'}"


_UK_DATE = re.compile(r"^\s*(\d{1,2})[/\s.-]+(\d{1,2})[/\s.-]+(\d{4})\s*$")


def parse_date(text: str) -> date:
    """A date as a person types it: 24/11/2026, 24 11 2026, 24-11-2026 or 2026-11-24.

    Raises ValueError for anything else, including dates that do not exist.
    """
    match = _UK_DATE.match(text or "")
    if match:
        day, month, year = (int(x) for x in match.groups())
        return date(year, month, day)
    return date.fromisoformat((text or "").strip())


def label(code: str | None) -> str:
    """A casework code (a referral source, a behaviour, a risk level) in plain words."""
    from hub.vocabulary import LABELS

    return LABELS.get(code or "", (code or "").replace("_", " ").capitalize())


def label_pair(code: str) -> tuple[str, str]:
    """(code, plain words): an option of a form's radios or checkboxes."""
    return code, label(code)


def tool_pair(tool) -> tuple[str, str]:
    return tool.id, tool.name


def register(app) -> None:
    for name in ("class_label", "agency_label", "uk_date", "uk_datetime", "label",
                 "label_pair", "tool_pair"):
        app.add_template_filter(globals()[name], name)
