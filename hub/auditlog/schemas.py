"""Query parameters of the DPO's audit search."""

from datetime import UTC

from marshmallow import fields, validate

from hub.auditlog.models import OUTCOMES
from hub.cases.schemas import Strict

_short = validate.Length(max=64)


class AuditSearchIn(Strict):
    username = fields.String(validate=_short)
    agency = fields.String(validate=_short)
    role = fields.String(validate=_short)
    action = fields.String(validate=_short)
    outcome = fields.String(validate=validate.OneOf(OUTCOMES))
    purpose = fields.String(validate=_short)
    case_id = fields.Integer(validate=validate.Range(min=1, max=2**62))
    person_id = fields.Integer(validate=validate.Range(min=1, max=2**62))
    break_glass = fields.Boolean()
    since = fields.AwareDateTime(default_timezone=UTC)
    until = fields.AwareDateTime(default_timezone=UTC)
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=1_000_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
