"""Admin input and output schemas. Outputs are explicit whitelists: no password hashes, no
TOTP seeds, no client secrets, no case content."""

from __future__ import annotations

from marshmallow import fields, validate

from hub.policy import current_policy
from hub.schemas import JsonBoolean, Strict

_SLUG = validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,31}$", error="lower-case letters, digits, -")
_CLAIM_VALUE = fields.String(validate=validate.Length(min=1, max=64))


class UserSearchIn(Strict):
    q = fields.String(load_default="", validate=validate.Length(max=64))
    agency = fields.String(validate=validate.Length(max=32))
    page = fields.Integer(load_default=1, validate=validate.Range(min=1, max=10_000))
    per_page = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))


class UserUpdateIn(Strict):
    role = fields.String(validate=validate.Length(min=1, max=32))
    display_name = fields.String(validate=validate.Length(min=1, max=120))


class UserCreateIn(Strict):
    """A local user (password and TOTP). Single sign-on users are made by their provider."""

    username = fields.String(required=True, validate=validate.Regexp(
        r"^[a-z0-9][a-z0-9._-]{1,63}$",
        error="2 to 64 lower-case letters, digits, '.', '_' or '-'"))
    display_name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    agency = fields.String(required=True, validate=validate.Length(min=1, max=32))
    role = fields.String(required=True, validate=validate.Length(min=1, max=32))
    area = fields.String(load_default=None, allow_none=True,
                         validate=validate.Length(min=1, max=32))


# Area and agency codes: lower-case letters, digits and hyphens (they appear in URLs, case
# references, policy file names and the audit log).
CODE = validate.Regexp(r"^[a-z0-9][a-z0-9-]{0,31}$",
                       error="1 to 32 lower-case letters, digits or hyphens, not starting "
                             "with a hyphen")
_NAME = validate.Length(min=1, max=120)


class AreaIn(Strict):
    code = fields.String(required=True, validate=CODE)  #: the policy file's name, for ever
    name = fields.String(required=True, validate=_NAME)


class AreaUpdateIn(Strict):
    name = fields.String(validate=_NAME)


class AgencyIn(Strict):
    code = fields.String(required=True, validate=CODE)
    name = fields.String(required=True, validate=_NAME)
    kind = fields.String(required=True, validate=validate.Length(min=1, max=32))  #: roles.yaml
    area = fields.String(load_default=None, allow_none=True,  #: None: serves every area
                         validate=validate.Length(min=1, max=32))


class AgencyUpdateIn(Strict):
    """Any of these; what is not sent stays as it is."""

    name = fields.String(validate=_NAME)
    kind = fields.String(validate=validate.Length(min=1, max=32))
    area = fields.String(allow_none=True, validate=validate.Length(min=1, max=32))
    active = JsonBoolean()  #: a suspension signs a whole agency out


class ProviderIn(Strict):
    slug = fields.String(required=True, validate=_SLUG)
    name = fields.String(required=True, validate=validate.Length(min=1, max=120))
    issuer = fields.String(required=True, validate=validate.Length(min=8, max=255))
    client_id = fields.String(required=True, validate=validate.Length(min=1, max=255))
    client_secret = fields.String(required=True, load_only=True,
                                  validate=validate.Length(min=1, max=1024))
    agency = fields.String(required=True, validate=validate.Length(min=1, max=32))
    role_claim = fields.String(required=True, validate=validate.Length(min=1, max=64))
    role_map = fields.Dict(keys=_CLAIM_VALUE, values=fields.String(
        validate=validate.Length(min=1, max=32)), required=True,
        validate=validate.Length(min=1, max=50))
    acr_values = fields.List(_CLAIM_VALUE, load_default=list, validate=validate.Length(max=10))
    required_amr = fields.List(_CLAIM_VALUE, load_default=list,
                               validate=validate.Length(max=10))
    active = fields.Boolean(load_default=True)


class ProviderUpdateIn(ProviderIn):
    """Load with ``partial=True``: only what is sent changes."""

    slug = fields.String(dump_only=True)
    client_secret = fields.String(load_only=True, validate=validate.Length(min=1, max=1024))


def user_out(user) -> dict:
    return {"id": user.id, "username": user.username, "display_name": user.display_name,
            "agency": user.agency.code, "role": user.role, "active": user.active,
            "single_sign_on": user.oidc_issuer is not None,
            "created_at": user.created_at.isoformat(),
            "deactivated_at": user.deactivated_at.isoformat() if user.deactivated_at else None}


def agency_out(agency) -> dict:
    return {"id": agency.id, "code": agency.code, "name": agency.name, "kind": agency.kind,
            "area": agency.area.code if agency.area else None, "active": agency.active,
            "casework": current_policy().does_casework(agency.kind)}


def area_out(area) -> dict:
    """``has_policy``: whether policies/areas/ has its file; without one its cases are
    open to nobody (the policy fails closed)."""
    return {"id": area.id, "code": area.code, "name": area.name,
            "has_policy": area.code in current_policy().set.area_rules}


def provider_out(p) -> dict:
    return {"id": p.id, "slug": p.slug, "name": p.name, "issuer": p.issuer,
            "client_id": p.client_id, "agency": p.agency.code, "role_claim": p.role_claim,
            "role_map": p.role_map, "acr_values": p.acr_values,
            "required_amr": p.required_amr, "active": p.active}


def temporary_password_out(user, password: str) -> dict:
    """The user, and the temporary password: in this one response only, never again."""
    return {**user_out(user), "temporary_password": password,
            "temporary_password_expires_at": user.temporary_password_expires_at.isoformat()}
