"""Query parameters and bodies of the DPO's routes. Unknown fields are rejected (400)."""

import re
from datetime import UTC, datetime, time, timedelta

from marshmallow import ValidationError, fields, validate, validates_schema

from hub.auditlog.models import OUTCOMES
from hub.dpo.models import ALERT_OUTCOMES
from hub.schemas import Strict
from hub.web.formatting import LONDON, parse_date

_short = validate.Length(min=1, max=64)
_id = validate.Range(min=1, max=2**31 - 1)  # user, case and person ids are 32-bit columns


# Dates as a person types them: 24/11/2026 (or 24 11 2026, 24-11-2026), and ISO 2026-11-24.
_TYPED_DATE = re.compile(r"^(\d{1,2}[/\s.-]+\d{1,2}[/\s.-]+\d{4}|\d{4}-\d{2}-\d{2})$")


class Instant(fields.Field):
    """A date (24/11/2026 or 2026-11-24) or an ISO date-time (naive times are UTC).

    A date is a day in London, as the pages show times: the start of that day for
    ``since`` and the end of it for ``until``, so ``since=until=24/11/2026`` is that whole
    day, as a DPO would expect. Messages name the field as the pages label it.
    """

    def __init__(self, label: str, end_of_day: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.label, self.end_of_day = label, end_of_day

    def _deserialize(self, value, attr, data, **kwargs):
        text = value.strip() if isinstance(value, str) and len(value) <= 40 else None
        if text and _TYPED_DATE.match(text):
            return self._day(text)
        try:
            moment = datetime.fromisoformat(text or "")
            return moment.replace(tzinfo=UTC) if moment.tzinfo is None \
                else moment.astimezone(UTC)  # 0001-01-01T00:00+05:00 is before year 1
        except (ValueError, OverflowError):
            raise ValidationError(f"{self.label} must be a date, like 24/11/2026") from None

    def _day(self, text: str) -> datetime:
        try:
            day = parse_date(text) + timedelta(days=int(self.end_of_day))
            return datetime.combine(day, time(), LONDON).astimezone(UTC)
        except (ValueError, OverflowError):
            raise ValidationError(f"{self.label} must be a real date") from None


def _range(data: dict) -> None:
    if data.get("since") and data.get("until") and data["since"] >= data["until"]:
        raise ValidationError("Date to must be the same as or after date from", "until")


class AuditFilterIn(Strict):
    username = fields.String(validate=_short)
    user_id = fields.Integer(validate=_id)
    agency = fields.String(validate=_short)
    role = fields.String(validate=_short)
    action = fields.String(validate=_short)
    outcome = fields.String(validate=validate.OneOf(OUTCOMES))
    purpose = fields.String(validate=_short)
    case_id = fields.Integer(validate=_id)
    person_id = fields.Integer(validate=_id)
    break_glass = fields.Boolean()
    since = Instant("Date from")
    until = Instant("Date to", end_of_day=True)

    @validates_schema
    def _range(self, data, **_kwargs):
        _range(data)


class AuditSearchIn(AuditFilterIn):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class HistoryIn(Strict):
    since = Instant("Date from")
    until = Instant("Date to", end_of_day=True)

    @validates_schema
    def _range(self, data, **_kwargs):
        _range(data)


def _blank_or_long(label: str, what: str, longest: int) -> list:
    def not_blank(value: str) -> None:
        if not value.strip():
            raise ValidationError(f"Enter {what} to search for")
    return [not_blank, validate.Length(max=longest,
                                       error=f"{label} must be {longest} characters or fewer")]


class PersonSearchIn(Strict):
    """A DPO's "Find a person": every word typed must be in the name."""

    name = fields.String(required=True, validate=_blank_or_long("Name", "a name", 100),
                         error_messages={"required": "Enter a name to search for"})


class CaseSearchIn(Strict):
    """A DPO's "Find a case": the reference, or part of it."""

    reference = fields.String(required=True, validate=_blank_or_long(
        "Case reference", "a case reference", 32),
        error_messages={"required": "Enter a case reference to search for"})


class AlertListIn(Strict):
    status = fields.String(load_default="open", validate=validate.OneOf(("open", "closed", "all")))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))


class AlertCloseIn(Strict):
    outcome = fields.String(required=True, validate=validate.OneOf(
        ALERT_OUTCOMES, error="Choose the outcome of your review"),
        error_messages={"required": "Choose the outcome of your review"})
    note = fields.String(required=True, validate=validate.Length(
        min=3, max=2000, error="Enter a note of 3 to 2,000 characters"),
        error_messages={"required": "Enter a note about your review"})


class ExemptionIn(Strict):
    info_class = fields.String(required=True, data_key="class", validate=_short)
    reason = fields.String(required=True, validate=validate.Length(min=10, max=1000))


class ErasureIn(Strict):
    ground = fields.String(required=True, validate=validate.OneOf(
        ("retention", "erasure-request", "unlawful-processing")))
    confirm = fields.Integer(required=True, validate=_id)  #: the person id, typed again
