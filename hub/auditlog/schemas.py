"""Query parameters and bodies of the DPO's routes. Unknown fields are rejected (400)."""

from datetime import UTC, date, datetime, time, timedelta

from marshmallow import ValidationError, fields, validate, validates_schema

from hub.auditlog.models import OUTCOMES
from hub.cases.schemas import Strict
from hub.dpo.models import ALERT_OUTCOMES

_short = validate.Length(min=1, max=64)
_id = validate.Range(min=1, max=2**31 - 1)  # user, case and person ids are 32-bit columns


class Instant(fields.Field):
    """A date (``2026-11-23``) or an ISO date-time; naive times are UTC.

    A bare date means the start of that day for ``since`` and the end of it for ``until``,
    so ``since=until=2026-11-23`` is that whole day, as a DPO would expect.
    """

    def __init__(self, end_of_day: bool = False, **kwargs):
        super().__init__(**kwargs)
        self.end_of_day = end_of_day

    def _deserialize(self, value, attr, data, **kwargs):
        if not isinstance(value, str) or len(value) > 40:
            raise ValidationError("not a date or date-time (e.g. 2026-11-23 or 2026-11-23T09:00)")
        try:
            if len(value) == 10:
                day = date.fromisoformat(value) + timedelta(days=int(self.end_of_day))
                return datetime.combine(day, time(), UTC)
            moment = datetime.fromisoformat(value)
        except (ValueError, OverflowError):
            raise ValidationError(
                "not a date or date-time (e.g. 2026-11-23 or 2026-11-23T09:00)") from None
        return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


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
    since = Instant()
    until = Instant(end_of_day=True)

    @validates_schema
    def _range(self, data, **_kwargs):
        if data.get("since") and data.get("until") and data["since"] >= data["until"]:
            raise ValidationError("must be after since", "until")


class AuditSearchIn(AuditFilterIn):
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))


class HistoryIn(Strict):
    since = Instant()
    until = Instant(end_of_day=True)


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
