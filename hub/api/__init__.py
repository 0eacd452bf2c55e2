"""The JSON API (`/api/v1`): bearer tokens, JSON in and out, errors as
``{"error": {"code", "message", "field"?}}``."""

from __future__ import annotations

from flask import Blueprint, g, jsonify, request
from marshmallow import Schema, ValidationError
from werkzeug.exceptions import HTTPException

from hub.accounts import operations as accounts
from hub.auditlog.writer import AuditUnavailable
from hub.boundary import BadInput, carry_headers
from hub.errors import OperationError

bp = Blueprint("api", __name__, url_prefix="/api/v1")

PUBLIC_ENDPOINTS = {"api.issue_token", "api.openapi"}


def error(status: int, code: str, message: str, field: str | None = None):
    body = {"code": code, "message": message}
    if field:
        body["field"] = field
    response = jsonify({"error": body})
    response.status_code = status
    if status == 401:
        response.headers["WWW-Authenticate"] = 'Bearer realm="stac-hub"'
    return response


@bp.before_request
def authenticate():
    g.api = True
    if request.endpoint in PUBLIC_ENDPOINTS:
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    user = accounts.user_for_token(token.strip()) if scheme.lower() == "bearer" else None
    if user is None:
        return error(401, "unauthorized", "a valid bearer token is required")
    g.user = user
    return None


def load(schema: Schema, data=None) -> dict:
    """Validate a JSON body (or ``data``) against ``schema``; 400 naming the field."""
    if data is None:
        try:
            data = request.get_json(silent=True)
        except RecursionError:  # json's decoder gives up on deep nesting; `silent` misses it
            raise BadInput("the body is nested too deeply") from None
        if data is None:
            raise BadInput("the body must be a JSON object (Content-Type: application/json)")
    if not isinstance(data, dict):
        raise BadInput("the body must be a JSON object")
    try:
        return schema.load(data)
    except ValidationError as exc:
        field, message = _first(exc.messages)
        raise BadInput(f"{field}: {message}", field) from None


def _first(messages, prefix: str = "") -> tuple[str, str]:
    if isinstance(messages, dict):
        key, value = next(iter(messages.items()))
        name = f"{prefix}.{key}" if prefix else str(key)
        return _first(value, name)
    if isinstance(messages, list) and messages:
        return _first(messages[0], prefix) if not isinstance(messages[0], str) \
            else (prefix or "body", messages[0])
    return prefix or "body", str(messages)


def query_args(schema: Schema) -> dict:
    return load(schema, request.args.to_dict())


@bp.errorhandler(BadInput)
def _bad_input(exc: BadInput):
    return error(400, "invalid", exc.message, exc.field)


@bp.errorhandler(OperationError)
def _refused(exc: OperationError):
    codes = {400: "invalid", 403: "forbidden", 409: "conflict"}
    return error(exc.status, codes.get(exc.status, "error"), exc.message, exc.field)


@bp.errorhandler(AuditUnavailable)
def audit_unavailable(_exc):
    return error(503, "audit_unavailable",
                 "the audit log cannot be written, so no data is returned; try again later")


HTTP_MESSAGES = {404: "not found", 403: "not allowed", 401: "a valid bearer token is required",
                 405: "method not allowed", 413: "the request body is too large",
                 429: "too many requests; slow down"}
HTTP_CODES = {413: "too_large"}  # werkzeug's name for it changed across versions


@bp.errorhandler(HTTPException)
def http_error(exc: HTTPException):
    """The JSON error, keeping the headers HTTP asks for (Allow on a 405)."""
    status = exc.code or 500
    code = HTTP_CODES.get(status, exc.name.lower().replace(" ", "_"))
    response = error(status, code, HTTP_MESSAGES.get(status, exc.description or exc.name))
    return carry_headers(response, exc)


from hub.api import routes  # noqa: E402,F401  -- registers the routes on bp
