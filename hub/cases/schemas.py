"""Input schemas (marshmallow). Unknown fields are rejected; every string has a limit."""

from __future__ import annotations

from marshmallow import (
    RAISE,
    Schema,
    ValidationError,
    fields,
    pre_load,
    validate,
    validates,
    validates_schema,
)

from hub.cases.models import CASE_STATUSES, ENTRY_KINDS, RISK_LEVELS

_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
_NHS = validate.Regexp(r"^\d{10}$", error="must be 10 digits")
_PNC = validate.Regexp(r"^\d{2,4}/\d{1,7}[A-Z]$", error="must look like 2001/0123456A")


class Strict(Schema):
    class Meta:
        unknown = RAISE

    @pre_load
    def no_nul(self, data, **_kwargs):
        """PostgreSQL cannot store NUL in text: refuse it here as bad input, not a 500."""
        if isinstance(data, dict):
            for key, value in data.items():
                values = value if isinstance(value, list) else [value]
                if "\x00" in str(key) or any(isinstance(v, str) and "\x00" in v for v in values):
                    raise ValidationError("must not contain NUL characters", str(key))
        return data


def _text(max_length: int, **kwargs) -> fields.String:
    return fields.String(validate=validate.Length(max=max_length), **kwargs)


class PerpetratorIn(Strict):
    name = _name
    date_of_birth = fields.Date()
    aliases = fields.List(fields.String(validate=validate.Length(min=1, max=200)),
                          validate=validate.Length(max=20))
    pnc_id = fields.String(validate=_PNC)
    nhs_number = fields.String(validate=_NHS)
    address = _text(500)


class VictimIn(Strict):
    name = _name
    date_of_birth = fields.Date()
    address = _text(500)
    phone = fields.String(validate=[validate.Length(max=40),
                                    validate.Regexp(r"^[0-9 +()-]*$", error="not a phone number")])
    email = fields.Email(validate=validate.Length(max=254))
    workplace = _text(500)


class CaseIn(Strict):
    area = fields.String(validate=validate.Length(min=1, max=32))
    status = fields.String(validate=validate.OneOf(CASE_STATUSES))
    risk_level = fields.String(validate=validate.OneOf(RISK_LEVELS))
    summary = _text(500)
    referred_on = fields.Date()
    perpetrator = fields.Nested(PerpetratorIn, required=True)
    victims = fields.List(fields.Nested(VictimIn), required=True,
                          validate=validate.Length(min=1, max=10))


class CaseUpdateIn(Strict):
    version = fields.Integer(required=True, strict=True)
    status = fields.String(validate=validate.OneOf(CASE_STATUSES))
    risk_level = fields.String(validate=validate.OneOf(RISK_LEVELS))
    summary = _text(500)
    next_review_on = fields.Date(allow_none=True)


class MemberIn(Strict):
    username = fields.String(validate=validate.Length(min=1, max=64))
    agency = fields.String(validate=validate.Length(min=1, max=32))

    @validates_schema
    def one_of(self, data, **_kwargs):
        if ("username" in data) == ("agency" in data):
            raise ValidationError("give exactly one of username or agency", "username")


class EntryIn(Strict):
    body = fields.String(required=True, validate=validate.Length(min=1, max=20_000))
    info_class = fields.String(required=True, data_key="class",
                               validate=validate.Length(min=1, max=32))
    kind = fields.String(load_default="note", validate=validate.OneOf(ENTRY_KINDS))
    restricted_to = fields.List(fields.String(validate=validate.Length(min=1, max=32)),
                                validate=validate.Length(min=1, max=10), allow_none=True)
    subject_person_id = fields.Integer(strict=True)


class EntryEditIn(Strict):
    body = fields.String(required=True, validate=validate.Length(min=1, max=20_000))
    version = fields.Integer(required=True, strict=True)


class BreakGlassIn(Strict):
    reason = fields.String(required=True, validate=validate.Length(min=10, max=1000))

    @validates("reason")
    def not_blank(self, value, **_kwargs):
        if len(value.strip()) < 10:
            raise ValidationError("state the reason in at least 10 characters")


class SearchIn(Strict):
    q = fields.String(load_default="", validate=validate.Length(max=100))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = fields.Integer(load_default=20, validate=validate.Range(min=1, max=100))
