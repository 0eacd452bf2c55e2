"""`POST /api/v1/auth/token`: a bearer token for a username, password and TOTP code."""

from flask import jsonify
from marshmallow import fields, validate

from hub.accounts import operations
from hub.api import bp, error, load
from hub.extensions import limiter
from hub.schemas import Strict


class TokenIn(Strict):
    username = fields.String(required=True, validate=validate.Length(min=1, max=64))
    password = fields.String(required=True, validate=validate.Length(min=1, max=1024))
    otp = fields.String(validate=validate.Length(max=10))


@bp.post("/auth/token")
@limiter.limit("20 per minute")
def issue_token():
    data = load(TokenIn())
    outcome = operations.check_credentials(data["username"], data["password"],
                                           data.get("otp"), channel="api")
    if outcome.throttled:
        return error(429, "throttled", "too many failed attempts; wait and try again")
    if outcome.user is None:
        return error(401, "bad_credentials", "the username, password or code is wrong")
    token, ttl = operations.issue_token(outcome.user)
    return jsonify(access_token=token, token_type="Bearer", expires_in=ttl)  # noqa: S106 -- the token type name, not a password  # nosec B106
