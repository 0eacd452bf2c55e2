"""`GET /api/v1/openapi.json`: the OpenAPI 3 description, built from the same marshmallow
schemas that validate requests (apispec), so the description cannot drift from the code."""

from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app, jsonify

from hub.api import bp

_ERROR = {"$ref": "#/components/schemas/Error"}


def _responses(ok: int, ok_desc: str, *errors: int) -> dict:
    described = {400: "malformed or invalid input", 401: "no or bad token",
                 403: "action not allowed", 404: "unknown or not visible",
                 409: "edit conflict", 429: "throttled", 503: "audit log unavailable"}
    out = {str(ok): {"description": ok_desc, "content": {"application/json": {
        "schema": {"type": "object"}}}}}
    for code in (*errors, 401, 503):
        out[str(code)] = {"description": described[code],
                          "content": {"application/json": {"schema": _ERROR}}}
    return out


def _body(schema: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1}}


def build_spec() -> dict:
    from hub.accounts.api import TokenIn
    from hub.auditlog.schemas import AuditSearchIn
    from hub.cases import schemas as s

    spec = APISpec(title="STAC Hub API", version="1", openapi_version="3.0.3",
                   plugins=[MarshmallowPlugin()],
                   servers=[{"url": "/api/v1"}],
                   components={"securitySchemes": {"bearer": {"type": "http",
                                                              "scheme": "bearer"}}})
    spec.components.schema("Error", {"type": "object", "required": ["error"], "properties": {
        "error": {"type": "object", "required": ["code", "message"], "properties": {
            "code": {"type": "string"}, "message": {"type": "string"},
            "field": {"type": "string"}}}}})
    for name, schema in [("TokenIn", TokenIn), ("CaseIn", s.CaseIn),
                         ("CaseUpdateIn", s.CaseUpdateIn), ("MemberIn", s.MemberIn),
                         ("EntryIn", s.EntryIn), ("EntryEditIn", s.EntryEditIn),
                         ("BreakGlassIn", s.BreakGlassIn)]:
        spec.components.schema(name, schema=schema)
    ref = lambda n: {"$ref": f"#/components/schemas/{n}"}  # noqa: E731
    case_id = _id("case_id")
    paths = {
        "/auth/token": {"post": {"security": [], "requestBody": _body(ref("TokenIn")),
                                 "responses": _responses(200, "a bearer token", 400, 429)}},
        "/cases": {
            "get": {"parameters": [{"in": "query", "schema": s.SearchIn}],
                    "responses": _responses(200, "cases the caller may see", 400, 403)},
            "post": {"requestBody": _body(ref("CaseIn")),
                     "responses": _responses(201, "the new case", 400, 403)}},
        "/cases/{case_id}": {
            "get": {"parameters": [case_id], "responses": _responses(
                200, "the case as the caller may see it, with withheld classes", 404)},
            "patch": {"parameters": [case_id], "requestBody": _body(ref("CaseUpdateIn")),
                      "responses": _responses(200, "updated", 400, 403, 404, 409)}},
        "/cases/{case_id}/members": {"post": {
            "parameters": [case_id], "requestBody": _body(ref("MemberIn")),
            "responses": _responses(201, "added to the team", 400, 403, 404, 409)}},
        "/cases/{case_id}/notes": {
            "get": {"parameters": [case_id],
                    "responses": _responses(200, "entries the caller may see", 404)},
            "post": {"parameters": [case_id], "requestBody": _body(ref("EntryIn")),
                     "responses": _responses(201, "the new entry", 400, 403, 404)}},
        "/cases/{case_id}/notes/{entry_id}": {"put": {
            "parameters": [case_id, _id("entry_id")], "requestBody": _body(ref("EntryEditIn")),
            "responses": _responses(200, "a new version", 400, 403, 404, 409)}},
        "/cases/{case_id}/break-glass": {"post": {
            "parameters": [case_id], "requestBody": _body(ref("BreakGlassIn")),
            "responses": _responses(200, "time-limited access", 400, 403, 404)}},
        "/audit/events": {"get": {
            "parameters": [{"in": "query", "schema": AuditSearchIn}],
            "responses": _responses(200, "audit events, newest first", 400, 403)}},
        "/people/{person_id}/subject-access": {"get": {
            "parameters": [_id("person_id")],
            "responses": _responses(200, "the subject access bundle", 403, 404)}},
    }
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    out = spec.to_dict()
    out["security"] = [{"bearer": []}]
    out["info"]["description"] = "Agency-scoped access to shared stalking cases. " \
        f"Policy digest {current_app.extensions['hub.policy'].digest}."
    return out


@bp.get("/openapi.json")
def openapi():
    return jsonify(build_spec())
