"""`GET /api/v1/openapi.json`: the OpenAPI 3 description, built from the same marshmallow
schemas that validate requests (apispec), so the description cannot drift from the code."""

from __future__ import annotations

from apispec import APISpec
from apispec.ext.marshmallow import MarshmallowPlugin
from flask import current_app, jsonify
from werkzeug.routing import IntegerConverter

from hub.api import PUBLIC_ENDPOINTS, bp, openapi_rules

_ERROR = {"$ref": "#/components/schemas/Error"}


def _responses(ok: int, ok_desc: str, *errors: int) -> dict:
    described = {400: "malformed or invalid input", 401: "no or bad token",
                 403: "action not allowed", 404: "unknown or not visible",
                 405: "method not allowed (also for an id out of range)",
                 409: "edit conflict", 429: "throttled", 503: "audit log unavailable"}
    out = {str(ok): {"description": ok_desc, "content": {"application/json": {
        "schema": {"type": "object"}}}}}
    for code in (*errors, 401, 405, 429, 503):
        out[str(code)] = {"description": described[code],
                          "content": {"application/json": {"schema": _ERROR}}}
    return out


def _no_content(ok_desc: str, *errors: int) -> dict:
    """``_responses`` for a 204, which has no body."""
    out = _responses(204, ok_desc, *errors)
    out["204"] = {"description": ok_desc}
    return out


def _body(schema: str) -> dict:
    return {"required": True, "content": {"application/json": {"schema": schema}}}


def _id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}}


def build_spec() -> dict:
    from hub.accounts.api import TokenIn
    from hub.cases import schemas as s
    from hub.dpo.schemas import AuditSearchIn

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
        "/cases/{case_id}/members/{membership_id}": {"delete": {
            "parameters": [case_id, _id("membership_id")],
            "responses": _no_content("removed from the team (the row stays, marked removed)",
                                     403, 404, 409)}},
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
        **_audit_proof_paths(),
    }
    paths.update(_admin_paths(spec, ref))
    for path, operations in _place_paths(spec, ref).items():  # areas and agencies: below
        paths.setdefault(path, {}).update(operations)
    paths.update(_case_page_paths(spec, ref))  # the case page's routes: described below
    for path, operations in _casework_paths(spec, ref).items():
        paths.setdefault(path, {}).update(operations)
    for path, operations in _undescribed(paths).items():
        paths.setdefault(path, {}).update(operations)
    for path, operations in paths.items():
        spec.path(path=path, operations=operations)
    out = spec.to_dict()
    openapi_rules.apply(out)
    out["security"] = [{"bearer": []}]
    out["info"]["description"] = "Agency-scoped access to shared stalking cases. " \
        f"{openapi_rules.TEXT_RULES} " \
        f"Policy digest {current_app.extensions['hub.policy'].digest}."
    return out


def _audit_proof_paths() -> dict:
    size = {"type": "integer", "minimum": 1}
    query = lambda name, required: {"name": name, "in": "query",  # noqa: E731
                                    "required": required, "schema": size}
    return {
        "/audit/checkpoint": {"get": {"responses": _responses(
            200, "the latest signed checkpoint: tree_size, root_hash, note, public_key", 404)}},
        "/audit/events/{seq}/proof": {"get": {
            "parameters": [_id("seq"), query("tree_size", False)],
            "responses": _responses(200, "RFC 9162 inclusion proof (hashes in base64)",
                                    400, 404)}},
        "/audit/consistency": {"get": {
            "parameters": [query("first", True), query("second", True)],
            "responses": _responses(200, "RFC 9162 consistency proof (hashes in base64)",
                                    400)}},
    }


def _admin_paths(spec: APISpec, ref) -> dict:
    from hub.admin import schemas as a

    for name, schema in [("UserUpdateIn", a.UserUpdateIn), ("AgencyUpdateIn", a.AgencyUpdateIn),
                         ("ProviderIn", a.ProviderIn), ("UserCreateIn", a.UserCreateIn)]:
        spec.components.schema(name, schema=schema)
    spec.components.schema("ProviderUpdateIn", {"allOf": [ref("ProviderIn")],
                                                "description": "any subset of ProviderIn, "
                                                               "except slug"})
    user_id, agency_id, idp_id = _id("user_id"), _id("agency_id"), _id("provider_id")
    admin = ["admin"]
    return {
        "/admin/users": {
            "get": {"tags": admin, "parameters": [{"in": "query", "schema": a.UserSearchIn}],
                    "responses": _responses(200, "users", 400, 403)},
            "post": {"tags": admin, "requestBody": _body(ref("UserCreateIn")),
                     "responses": _responses(201, "the new local user and their one-time "
                                                  "temporary_password", 400, 403, 409)}},
        "/admin/users/{user_id}/reset-sign-in": {"post": {
            "tags": admin, "parameters": [user_id],
            "responses": _responses(200, "a one-time temporary_password; authenticator "
                                         "removed; sessions and tokens revoked",
                                    403, 404, 409)}},
        "/admin/users/{user_id}": {
            "get": {"tags": admin, "parameters": [user_id],
                    "responses": _responses(200, "a user", 403, 404)},
            "patch": {"tags": admin, "parameters": [user_id],
                      "requestBody": _body(ref("UserUpdateIn")),
                      "responses": _responses(200, "changed", 400, 403, 404, 409)}},
        "/admin/users/{user_id}/deactivate": {"post": {
            "tags": admin, "parameters": [user_id],
            "responses": _responses(200, "deactivated; sessions and tokens revoked",
                                    403, 404, 409)}},
        "/admin/users/{user_id}/reactivate": {"post": {
            "tags": admin, "parameters": [user_id],
            "responses": _responses(200, "reactivated", 403, 404)}},
        "/admin/agencies": {"get": {"tags": admin,
                                    "responses": _responses(200, "agencies", 403)}},
        "/admin/agencies/{agency_id}": {"patch": {
            "tags": admin, "parameters": [agency_id], "requestBody": _body(ref("AgencyUpdateIn")),
            "responses": _responses(200, "suspended or reactivated", 400, 403, 404, 409)}},
        "/admin/roles": {"get": {"tags": admin,
                                 "responses": _responses(200, "roles from the policy", 403)}},
        "/admin/identity-providers": {
            "get": {"tags": admin, "responses": _responses(200, "identity providers", 403)},
            "post": {"tags": admin, "requestBody": _body(ref("ProviderIn")),
                     "responses": _responses(201, "the new provider; 409 when its slug or "
                                                  "issuer is in use", 400, 403, 409)}},
        "/admin/identity-providers/{provider_id}": {
            "get": {"tags": admin, "parameters": [idp_id],
                    "responses": _responses(200, "a provider", 403, 404)},
            "patch": {"tags": admin, "parameters": [idp_id],
                      "requestBody": _body(ref("ProviderUpdateIn")),
                      "responses": _responses(200, "changed; 409 when the issuer is "
                                                   "another provider's", 400, 403, 404, 409)}},
    }


# -- areas and agencies as data an administrator manages (issue 11) -----------------------
def _place_paths(spec: APISpec, ref) -> dict:
    """Create, read and change areas and agencies. An agency's kind (policies/roles.yaml)
    decides what its staff may see; its area, if it has one, is the only one it serves."""
    from hub.admin import schemas as a

    for name, schema in [("AreaIn", a.AreaIn), ("AreaUpdateIn", a.AreaUpdateIn),
                         ("AgencyIn", a.AgencyIn)]:
        spec.components.schema(name, schema=schema)
    area_id, agency_id, admin = _id("area_id"), _id("agency_id"), ["admin"]
    return {
        "/admin/areas": {
            "get": {"tags": admin, "responses": _responses(
                200, "areas, each with has_policy: whether policies/areas/ has its file "
                     "(without one its cases are open to nobody)", 403)},
            "post": {"tags": admin, "requestBody": _body(ref("AreaIn")),
                     "responses": _responses(201, "the new area (audited: "
                                                  "admin:area:create); 409 when the code is "
                                                  "in use", 400, 403, 409)}},
        "/admin/areas/{area_id}": {
            "get": {"tags": admin, "parameters": [area_id],
                    "responses": _responses(200, "an area", 403, 404)},
            "patch": {"tags": admin, "parameters": [area_id],
                      "requestBody": _body(ref("AreaUpdateIn")),
                      "responses": _responses(200, "renamed (the code never changes; "
                                                   "audited: admin:area:update)",
                                              400, 403, 404)}},
        "/admin/agencies": {
            "post": {"tags": admin, "requestBody": _body(ref("AgencyIn")),
                     "responses": _responses(201, "the new agency, whose staff get what "
                                                  "the policy gives its kind (audited: "
                                                  "admin:agency:create); 409 when the "
                                                  "code is in use", 400, 403, 409)}},
        "/admin/agencies/{agency_id}": {
            "get": {"tags": admin, "parameters": [agency_id],
                    "responses": _responses(200, "an agency", 403, 404)},
            "patch": {"tags": admin, "parameters": [agency_id],
                      "requestBody": _body(ref("AgencyUpdateIn")),
                      "responses": _responses(
                          200, "changed (admin:agency:update), suspended or reactivated; "
                               "403 for an agency of a kind without casework (the hub's own "
                               "staff), 409 for a kind change once it has staff or team "
                               "places, or an area that would leave it on teams elsewhere",
                          400, 403, 404, 409)}},
    }


# Routes other modules add, described from their own input schemas where they name one.
_SCHEMAS = {  # endpoint: (query schema, body schema), "module:Class"
    "api.audit_export": ("hub.dpo.schemas:AuditFilterIn", None),
    "api.case_history": ("hub.dpo.schemas:HistoryIn", None),
    "api.person_history": ("hub.dpo.schemas:HistoryIn", None),
    "api.user_history": ("hub.dpo.schemas:HistoryIn", None),
    "api.person_exemption": (None, "hub.dpo.schemas:ExemptionIn"),
    "api.person_erasure": (None, "hub.dpo.schemas:ErasureIn"),
    "api.alert_list": ("hub.dpo.schemas:AlertListIn", None),
    "api.alert_close": (None, "hub.dpo.schemas:AlertCloseIn"),
}


def _undescribed(described: dict) -> dict:
    """Every API route not described above, so the description covers all of them."""
    out: dict = {}
    for rule in current_app.url_map.iter_rules():
        if rule.endpoint.split(".")[0] != "api":
            continue
        path = _path(rule)
        for method in sorted(rule.methods - {"HEAD", "OPTIONS"}):
            if method.lower() not in described.get(path, {}):
                out.setdefault(path, {})[method.lower()] = _generic(rule, method)
    return out


def _path(rule) -> str:
    path = rule.rule.removeprefix(bp.url_prefix)
    for name in rule.arguments:
        path = path.replace(f"<int:{name}>", f"{{{name}}}").replace(f"<{name}>", f"{{{name}}}")
    return path


def _generic(rule, method: str) -> dict:
    query, body = (_schema(name) for name in _SCHEMAS.get(rule.endpoint, (None, None)))
    view = current_app.view_functions[rule.endpoint]
    ok = 201 if method == "POST" else 200  # 200 is documented as well, below
    operation = {"summary": (view.__doc__ or rule.endpoint).strip().split("\n")[0][:120],
                 "parameters": [_param(rule, n) for n in sorted(rule.arguments)],
                 "responses": _responses(ok, "done", 400, 403, 404, 409)}
    operation["responses"].setdefault("200", operation["responses"][str(ok)])
    if query is not None:
        operation["parameters"].append({"in": "query", "schema": query})
    if method in {"POST", "PUT", "PATCH"}:
        operation["requestBody"] = _body(body or {"type": "object"})
    if rule.endpoint in PUBLIC_ENDPOINTS:
        operation["security"] = []
    if rule.rule.endswith(".csv"):
        operation["responses"]["200"] = {"description": "CSV", "content": {
            "text/csv": {"schema": {"type": "string"}}}}
    return operation


def _param(rule, name: str) -> dict:
    if isinstance(rule._converters[name], IntegerConverter):  # the hub's DatabaseInt too
        return _id(name)
    return {"name": name, "in": "path", "required": True,
            "schema": {"type": "string", "maxLength": 64}}


def _schema(dotted: str | None):
    """The named schema class, or None if its module no longer has it."""
    if not dotted:
        return None
    import importlib

    module, _, name = dotted.partition(":")
    try:
        return getattr(importlib.import_module(module), name)()
    except (ImportError, AttributeError):
        return None


@bp.get("/openapi.json")
def openapi():
    return jsonify(build_spec())


# -- the case page: corrections of people's details (issue 10) ----------------------------
def _case_page_paths(spec: APISpec, ref) -> dict:
    from hub.cases import schemas as s

    spec.components.schema("PersonUpdateIn", schema=s.PersonUpdateIn)
    return {"/cases/{case_id}/people/{person_id}": {"patch": {
        "summary": "Correct a person's details; each correction keeps the values it replaced",
        "description": "Only the fields given change; null clears an optional one. Each "
                       "field's class (victim.identity, victim.location, perpetrator.identity) "
                       "must be writable by the caller on this case, or nothing changes (403). "
                       "`version` (optional) is the person's `version` from GET /cases/{id}; "
                       "a stale one is 409. The replaced values are kept, encrypted, and shown "
                       "in the person's `history` to those who may read their class. A "
                       "perpetrator has a name, date of birth, aliases, PNC id, NHS number "
                       "and address; a victim a name, date of birth, address, phone, email "
                       "and workplace: a field the person does not have is 400.",
        "parameters": [_id("case_id"), _id("person_id")],
        "requestBody": _body(ref("PersonUpdateIn")),
        "responses": _responses(200, "the changes made: {id, changes: [{class, fields, at, "
                                     "agency}]}", 400, 403, 404, 409)}}}


# -- casework: referral, screening, risk assessment (issue 14) ----------------------------
def _casework_paths(spec: APISpec, ref) -> dict:
    from hub.cases import schemas as s

    for name, schema in [("ReferralIn", s.ReferralIn), ("DecisionIn", s.DecisionIn),
                         ("RiskAssessmentIn", s.RiskAssessmentIn), ("JoinIn", s.JoinIn),
                         ("JoinDecisionIn", s.JoinDecisionIn)]:
        spec.components.schema(name, schema=schema)
    return {
        "/referrals": {
            "get": {"summary": "The screening queue: referrals waiting for the caller",
                    "description": "Coordinators (referral:screen) only; oldest first. Each "
                                   "item is a case summary with its `referral`.",
                    "responses": _responses(200, "{items: [...], total}", 403)},
            "post": {"summary": "Refer a case: it opens in `referred`",
                     "description": "The person who refers it and the area's coordinators "
                                    "join its team; nobody else learns of it. The "
                                    "perpetrator needs a name or at least one online "
                                    "identifier. When `behaviours` includes `other`, "
                                    "`behaviours_other` says what it is. `referred_on` is "
                                    "not in the future.",
                     "requestBody": _body(ref("ReferralIn")),
                     "responses": _responses(201, "{id, case_id, reference, status, ...}",
                                             400, 403)}},
        "/referrals/{referral_id}/decision": {"post": {
            "summary": "Screen a referral: accept, decline or signpost",
            "description": "A coordinator on the case's team decides once (409 after). "
                           "Accepting opens the case (`accepted`) and answers its `case_id`; "
                           "declining or signposting closes it and needs a `reason`.",
            "parameters": [_id("referral_id")], "requestBody": _body(ref("DecisionIn")),
            "responses": _responses(200, "{id, decision, status, case_id?}",
                                    400, 403, 404, 409)}},
        "/referrals/{referral_id}/matches": {"get": {
            "summary": "Already known? Cases of the area sharing an identifier with its people",
            "description": "Compared by keyed hash: PNC ID, NHS number, name with date of "
                           "birth, online identifiers, phone and email. Each item says only "
                           "{case_id, reference, area, open, known_to: [agency], matched: "
                           "[what]}; each answer is an audit event on the case it names.",
            "parameters": [_id("referral_id")],
            "responses": _responses(200, "{items: [...]}", 403, 404)}},
        "/referrals/{referral_id}/join": {"post": {
            "summary": "Ask to join a case the referral matched; its team decides",
            "description": "`case_id` must be one of the referral's matches (404 otherwise); "
                           "a second request while one waits is 409.",
            "parameters": [_id("referral_id")], "requestBody": _body(ref("JoinIn")),
            "responses": _responses(201, "{id, case_id}", 400, 403, 404, 409)}},
        "/join-requests/{request_id}/decision": {"post": {
            "summary": "Approve (the person joins the team by name) or refuse a request",
            "parameters": [_id("request_id")], "requestBody": _body(ref("JoinDecisionIn")),
            "responses": _responses(200, "{id, decision}", 400, 403, 404, 409)}},
        "/risk-tools": {"get": {
            "summary": "The risk assessment tools, their questions and scoring",
            "responses": _responses(200, "{items: [{tool, name, questions, scoring, ...}]}")}},
        "/cases/{case_id}/risk-assessments": {"post": {
            "summary": "Record a risk assessment; its level becomes the case's",
            "description": "Answer every question of the tool (GET /risk-tools). A `level` "
                           "other than the one the answers suggest needs an "
                           "`override_reason`. Whoever may write the tool's answers class "
                           "on the case completes it (403 otherwise). `review_on` is today "
                           "or later.",
            "parameters": [_id("case_id")], "requestBody": _body(ref("RiskAssessmentIn")),
            "responses": _responses(201, "{id, tool, score, suggested_level, level, "
                                         "review_on, case_risk_level}", 400, 403, 404)}},
    }
