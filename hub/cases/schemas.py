"""Input schemas (marshmallow). Unknown fields are rejected; every string has a limit."""

from __future__ import annotations

import re
from datetime import date

from marshmallow import (
    ValidationError,
    fields,
    pre_load,
    validate,
    validates,
    validates_schema,
)

from hub.cases.models import CASE_STATUSES, ENTRY_KINDS, RISK_LEVELS
from hub.schemas import JsonBoolean, Strict
from hub.vocabulary import BEHAVIOURS, REFERRAL_DECISIONS, REFERRAL_SOURCES, RELATIONSHIPS

_name = fields.String(required=True, validate=validate.Length(min=1, max=200))
NOTE_KINDS = tuple(k for k in ENTRY_KINDS if k != "risk_assessment")
_NHS = validate.Regexp(r"^\d{10}$", error="must be 10 digits")
_PNC = validate.Regexp(r"^\d{2,4}/\d{1,7}[A-Z]$", error="must look like 2001/0123456A")


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
    safe_contact = _text(500)  #: safe ways to contact her, e.g. "no voicemail"


_IDENTIFIER = fields.String(validate=validate.Length(min=1, max=200))


def _someone_to_look_for(original) -> None:
    """A perpetrator is known by name or, when the stalking is anonymous and online, only
    by his online identifiers: one of them is needed. Judged on what was sent, so that a
    name given but wrong is reported as that alone."""
    perpetrator = original.get("perpetrator") if isinstance(original, dict) else None
    perpetrator = perpetrator if isinstance(perpetrator, dict) else {}
    if "name" not in perpetrator and not perpetrator.get("online_identifiers"):
        raise ValidationError("give the perpetrator's name or at least one online "
                              "identifier", "perpetrator")


class ReferredPerpetratorIn(PerpetratorIn):
    """A perpetrator as a referral knows him: by name, or only by online identifiers."""

    name = fields.String(validate=validate.Length(min=1, max=200))
    online_identifiers = fields.List(_IDENTIFIER, validate=validate.Length(max=20))


class CaseIn(Strict):
    area = fields.String(validate=validate.Length(min=1, max=32))
    status = fields.String(validate=validate.OneOf(CASE_STATUSES))
    risk_level = fields.String(validate=validate.OneOf(RISK_LEVELS))
    summary = _text(500)
    referred_on = fields.Date()
    perpetrator = fields.Nested(ReferredPerpetratorIn, required=True)
    victims = fields.List(fields.Nested(VictimIn), required=True,
                          validate=validate.Length(min=1, max=10))

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def someone_to_look_for(self, _data, original, **_kwargs):
        _someone_to_look_for(original)


class CaseUpdateIn(Strict):
    version = fields.Integer(required=True, strict=True)
    status = fields.String(validate=validate.OneOf(CASE_STATUSES))
    closure_reason = _text(1000)  #: needed to close a case
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
    # A risk assessment is recorded with its tool (RiskAssessmentIn), never as a note.
    kind = fields.String(load_default="note", validate=validate.OneOf(NOTE_KINDS))
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


# -- the case page and corrections of people's details (issue 10) ------------------------
def nhs_number_valid(value: str) -> bool:
    """The NHS number's modulus 11 check digit (NHS Data Dictionary)."""
    if not re.fullmatch(r"\d{10}", value):
        return False
    total = sum(int(d) * w for d, w in zip(value[:9], range(10, 1, -1), strict=True))
    check = 11 - total % 11
    return check != 10 and check % 11 == int(value[9])


class PersonUpdateIn(Strict):
    """A correction: only the fields given change; null clears an optional one."""

    name = fields.String(validate=validate.Length(min=1, max=200))
    date_of_birth = fields.Date(allow_none=True)
    aliases = fields.List(fields.String(validate=validate.Length(min=1, max=200)),
                          validate=validate.Length(max=20), allow_none=True)
    pnc_id = fields.String(validate=_PNC, allow_none=True)
    nhs_number = fields.String(validate=_NHS, allow_none=True)
    address = _text(500, allow_none=True)
    phone = fields.String(validate=[validate.Length(min=1, max=40),
                                    validate.Regexp(r"^[0-9 +()-]+$", error="not a phone number")],
                          allow_none=True)
    email = fields.Email(validate=validate.Length(max=254), allow_none=True)
    workplace = _text(500, allow_none=True)
    safe_contact = _text(500, allow_none=True)
    online_identifiers = fields.List(fields.String(validate=validate.Length(min=1, max=200)),
                                     validate=validate.Length(max=20), allow_none=True)
    version = fields.Integer(strict=True, validate=validate.Range(min=0, max=2**31 - 1))

    @validates("nhs_number")
    def nhs_check_digit(self, value, **_kwargs):
        if value is not None and not nhs_number_valid(value):
            raise ValidationError("is not a valid NHS number (its check digit is wrong)")

    @validates("date_of_birth")
    def born_in_the_past(self, value, **_kwargs):
        if value is not None and not date(1900, 1, 1) <= value <= date.today():
            raise ValidationError("must be a date in the past, after 1900")

    @validates_schema
    def something(self, data, **_kwargs):
        if not set(data) - {"version"}:
            raise ValidationError("give at least one detail to correct", "body")


class CaseViewIn(Strict):
    """The case page's query string: which kind of entry to show."""

    kind = fields.String(load_default=None, validate=validate.OneOf(("", *ENTRY_KINDS)))


# -- the case team and break-glass by reference (issue 10) -------------------------------
# A case reference as the hub makes them (STAC-LON-2026-00001), in any letter case.
REFERENCE = validate.Regexp(r"(?i)^STAC-[A-Z]{2,5}-\d{4}-\d{5,9}$",
                            error="Enter a case reference like STAC-LON-2026-00001")


def looks_like_reference(text: str) -> bool:
    return REFERENCE.regex.fullmatch(text.strip()) is not None


class StaffSearchIn(Strict):
    """The team page's search for agency staff by name."""

    name = fields.String(load_default="", validate=validate.Length(max=100))


class BreakGlassByReferenceIn(BreakGlassIn):
    """Emergency access asked for by the reference a person typed, not by an id."""

    reference = fields.String(required=True, validate=[validate.Length(min=1, max=32),
                                                       REFERENCE])

    @pre_load
    def tidy_reference(self, data, **_kwargs):
        if isinstance(data, dict) and isinstance(data.get("reference"), str):
            data = {**data, "reference": data["reference"].strip().upper()}
        return data


# -- casework: referral, screening, risk assessment (issue 14) ----------------------------


class ReferralIn(Strict):
    source = fields.String(required=True, validate=validate.OneOf(REFERRAL_SOURCES))
    referrer_name = _text(200)
    referred_on = fields.Date()
    area = fields.String(validate=validate.Length(min=1, max=32))
    crime_reference = fields.String(validate=validate.Length(min=1, max=40))
    consent_to_referral = JsonBoolean(required=True)
    consent_to_contact = JsonBoolean(required=True)
    relationship = fields.String(required=True, validate=validate.OneOf(RELATIONSHIPS))
    behaviours = fields.List(fields.String(validate=validate.OneOf(BEHAVIOURS)),
                             validate=validate.Length(max=len(BEHAVIOURS)))
    behaviours_other = _text(200)
    summary = _text(500)
    victim = fields.Nested(VictimIn, required=True)
    perpetrator = fields.Nested(ReferredPerpetratorIn, load_default=dict)

    @validates("referred_on")
    def not_in_future(self, value, **_kwargs):
        if value > date.today():
            raise ValidationError("must not be in the future")

    # Checked even when other fields are wrong: the page names every problem at once.
    @validates_schema(skip_on_field_errors=False)
    def other_named(self, data, **_kwargs):
        if "other" in data.get("behaviours", []) and not data.get("behaviours_other"):
            raise ValidationError("say what the other behaviour is", "behaviours_other")

    @validates_schema(skip_on_field_errors=False, pass_original=True)
    def someone_to_look_for(self, _data, original, **_kwargs):
        _someone_to_look_for(original)


class DecisionIn(Strict):
    decision = fields.String(required=True, validate=validate.OneOf(REFERRAL_DECISIONS))
    reason = _text(1000)


class RiskAssessmentIn(Strict):
    tool = fields.String(required=True, validate=validate.Length(min=1, max=32))
    answers = fields.Dict(keys=fields.String(validate=validate.Length(min=1, max=48)),
                          required=True)
    level = fields.String(validate=validate.OneOf(RISK_LEVELS))
    override_reason = _text(1000)
    shared_summary = _text(5000)
    review_on = fields.Date()

    @validates("review_on")
    def ahead(self, value, **_kwargs):
        if value < date.today():
            raise ValidationError("must be today or later")


class JoinIn(Strict):
    """Ask to join a case that "already known?" matched, from the referral that found it."""

    case_id = fields.Integer(required=True, strict=True,
                             validate=validate.Range(min=1, max=2**31 - 1))


class JoinDecisionIn(Strict):
    decision = fields.String(required=True, validate=validate.OneOf(("approve", "refuse")))
