"""Rules the hub enforces beyond what each marshmallow field says, written into the OpenAPI
description, so that a client built from it sends requests the hub accepts.

marshmallow gives types and lengths. The policy and the database give the rest: which
classes, agencies, areas and roles exist, which classes each kind of entry may be filed
as, which roles each agency has, how large the audit tree is now. Text never holds NUL
(PostgreSQL cannot store it); that is a pattern on every free-text string. Rules across
two parameters (``first <= second``, ``since`` before ``until``) or naming something that
exists (a username, a person in the case) have no JSON Schema form: descriptions state them.
"""

from __future__ import annotations

import copy

from flask import current_app
from sqlalchemy import select

from hub.extensions import db

TEXT_RULES = ("Text never holds NUL or an unpaired surrogate, and a JSON object never names "
              "a key twice: each is refused with a 400 naming the field.")
# A date, or an ISO 8601 date-time (a time without an offset is UTC).
INSTANT = {"type": "string", "maxLength": 40,
           "anyOf": [{"format": "date"}, {"format": "date-time"}],
           "description": "a date (2026-11-24, or typed 24/11/2026: a day in London) or an "
                          "ISO 8601 date-time"}
INSTANT_PARAMS = {"since", "until"}
RANGE_NOTE = "since, when both are given, must be before until"
HTTPS_URL = "^https://[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?(/[^\\s\\u0000]*)?$"
# The string lengths marshmallow gives, as a regular expression that also refuses NUL.
NO_NUL = "[^\\u0000]"


def apply(spec: dict) -> None:
    """Write every rule into ``spec`` (the dict apispec built)."""
    schemas = spec["components"]["schemas"]
    _entries(schemas)
    _members(schemas)
    _cases(schemas)
    _casework(schemas)
    _exemptions(schemas)
    _admin(schemas)
    for operation in _operations(spec):
        _parameters(operation)
        if "requestBody" in operation:
            operation["responses"].setdefault("413", {
                "description": "the body is larger than the hub takes",
                "content": {"application/json": {"schema": {
                    "$ref": "#/components/schemas/Error"}}}})
    _audit_tree(spec["paths"])
    for schema in schemas.values():
        _text(schema)


def _operations(spec: dict):
    for operations in spec["paths"].values():
        yield from (op for method, op in operations.items() if method != "parameters")


def _policy():
    return current_app.extensions["hub.policy"]


def _agency_kinds() -> list[tuple[str, str]]:
    """(code, kind) of every agency: the policy speaks of kinds, requests name agencies."""
    from hub.accounts.models import Agency

    return list(db.session.execute(select(Agency.code, Agency.kind).order_by(Agency.code)))


def _agencies() -> list[str]:
    """Agencies whose kind works cases (the hub's own staff do not)."""
    return [code for code, kind in _agency_kinds() if _policy().does_casework(kind)]


def _casework_kinds() -> list[str]:
    """Kinds of agency that work cases: what an author may narrow an entry to."""
    return sorted(_policy().casework_kinds())


def _areas() -> list[str]:
    from hub.accounts.models import Area

    return sorted(db.session.scalars(select(Area.code)))


def _roles(kind: str) -> list[str]:
    return sorted(_policy().roles(kind))


# -- bodies --------------------------------------------------------------------------------
def _entries(schemas: dict) -> None:
    """A note's class is one the policy knows; a kind other than a plain note may be filed
    only as the classes kinds.yaml gives it; narrowing names kinds of agency that work
    cases."""
    entry = schemas.get("EntryIn")
    if not entry:
        return
    kinds = {k: c for k, c in _policy().set.kinds.items() if k != "risk_assessment"}
    entry["properties"]["class"]["enum"] = sorted(_policy().classes)
    entry["properties"]["kind"]["enum"] = sorted(kinds)
    entry["properties"]["restricted_to"]["items"]["enum"] = _casework_kinds()
    entry["properties"]["subject_person_id"]["description"] = "a person in this case"
    entry["anyOf"] = [{"properties": {"kind": {"enum": ["note"]}}}] + [
        {"required": ["kind"], "properties": {"kind": {"enum": [kind]},
                                              "class": {"enum": sorted(classes)}}}
        for kind, classes in sorted(kinds.items()) if kind != "note"]


def _members(schemas: dict) -> None:
    """Exactly one of username or agency."""
    member = schemas.get("MemberIn")
    if not member:
        return
    member["properties"]["agency"]["enum"] = _agencies()
    member["properties"]["username"]["description"] = "a user of the hub"
    member["oneOf"] = [{"required": ["username"]}, {"required": ["agency"]}]


def _cases(schemas: dict) -> None:
    if "CaseIn" in schemas:
        schemas["CaseIn"]["properties"]["area"]["enum"] = _areas()


# Text that must say something: not empty and not only spaces.
SAYS_SOMETHING = "^[^\\u0000]*[^\\s\\u0000][^\\u0000]*$"


def _casework(schemas: dict) -> None:
    """A referral's area exists and its perpetrator has a name or an online identifier; a
    decline or signpost gives a reason; an assessment answers exactly its tool's questions,
    each of the right type."""
    if "ReferralIn" in schemas:
        referral = schemas["ReferralIn"]
        referral["properties"]["area"]["enum"] = _areas()
        referral["required"] = sorted({*referral.get("required", ()), "perpetrator"})
        perpetrator = schemas.get("ReferredPerpetratorIn", {})
        if perpetrator:
            perpetrator["anyOf"] = [
                {"required": ["name"]},
                {"required": ["online_identifiers"],
                 "properties": {"online_identifiers": {"minItems": 1}}}]
    if "DecisionIn" in schemas:
        schemas["DecisionIn"]["oneOf"] = [
            {"properties": {"decision": {"enum": ["accept"]}}},
            {"required": ["reason"], "properties": {
                "decision": {"enum": ["decline", "signpost"]},
                "reason": {"type": "string", "pattern": SAYS_SOMETHING}}}]
    if "RiskAssessmentIn" in schemas:
        _assessment(schemas["RiskAssessmentIn"])


def _assessment(schema: dict) -> None:
    from hub.cases.risk_tools import JUDGEMENTS, TEXT_LIMIT

    answer = {"yes_no": lambda q: {"type": "boolean"},
              "choice": lambda q: {"type": "string", "enum": list(q.options)},
              "judgement": lambda q: {"type": "string", "enum": list(JUDGEMENTS)},
              "text": lambda q: {"type": "string", "maxLength": TEXT_LIMIT,
                                 "pattern": SAYS_SOMETHING}}
    variants = []
    for tool in current_app.extensions["hub.risk_tools"].values():
        variant = {"properties": {"tool": {"enum": [tool.id]}, "answers": {
            "type": "object", "additionalProperties": False,
            "required": [q.id for q in tool.questions],
            "properties": {q.id: answer[q.type](q) for q in tool.questions}}}}
        if tool.summary_class is None:
            variant["not"] = {"required": ["shared_summary"]}
        variants.append(variant)
    schema["properties"]["tool"]["enum"] = sorted(current_app.extensions["hub.risk_tools"])
    schema["properties"]["override_reason"]["pattern"] = SAYS_SOMETHING
    schema["oneOf"] = variants
    schema["description"] = "a level other than the suggested one needs an override_reason"


def _exemptions(schemas: dict) -> None:
    if "ExemptionIn" in schemas:
        schemas["ExemptionIn"]["properties"]["class"]["enum"] = sorted(_policy().classes)


def _admin(schemas: dict) -> None:
    """Users and providers belong to an agency, and take only the roles of its kind."""
    per_agency = [(code, _roles(kind)) for code, kind in _agency_kinds() if _roles(kind)]
    _places(schemas)
    if "UserCreateIn" in schemas:
        user = schemas["UserCreateIn"]
        user["properties"]["agency"]["enum"] = [a for a, _r in per_agency]
        user["properties"]["area"]["enum"] = [*_areas(), None]
        user["anyOf"] = [{"properties": {"agency": {"enum": [a]}, "role": {"enum": roles}}}
                         for a, roles in per_agency]
    if "UserUpdateIn" in schemas:
        every = sorted({r for _a, roles in per_agency for r in roles})
        schemas["UserUpdateIn"]["minProperties"] = 1
        role = schemas["UserUpdateIn"]["properties"]["role"]
        role.update(enum=every, description="one of the roles of the user's own agency")
    if "ProviderIn" in schemas:
        _provider(schemas["ProviderIn"], per_agency)
        schemas["ProviderUpdateIn"] = _partial(schemas["ProviderIn"], "slug")


def _places(schemas: dict) -> None:
    """An agency is of a kind in the policy and serves one known area, or every area
    (null); a change sends at least one property."""
    kinds, areas = sorted(_policy().set.agencies), _areas()
    for name in ("AgencyIn", "AgencyUpdateIn"):
        properties = schemas.get(name, {}).get("properties", {})
        if "kind" in properties:
            properties["kind"]["enum"] = kinds
        if "area" in properties:
            properties["area"]["enum"] = [*areas, None]
    for name in ("AgencyUpdateIn", "AreaUpdateIn"):
        if name in schemas:
            schemas[name]["minProperties"] = 1


def _partial(schema: dict, *fixed: str) -> dict:
    """What a PATCH takes: any subset of ``schema``'s properties, except ``fixed``."""
    out = copy.deepcopy(schema)
    out.pop("required", None)
    out["minProperties"] = 1
    for name in fixed:
        out["properties"].pop(name, None)
    out["description"] = "any subset of the properties, each as when creating; the roles " \
        "in role_map (sent or kept) must be roles of the agency (sent or kept)"
    return out


def _provider(provider: dict, per_agency: list[tuple[str, list[str]]]) -> None:
    properties = provider.setdefault("properties", {})
    if "agency" in properties:
        properties["agency"]["enum"] = [a for a, _r in per_agency]
    if "role_map" in properties:
        properties["role_map"].update(minProperties=1, maxProperties=50)
    if "issuer" in properties:  # HTTPS, naming a host (hub/oidc/client.py check_url)
        properties["issuer"]["pattern"] = HTTPS_URL
    provider["anyOf"] = [{"properties": {"agency": {"enum": [a]}, "role_map": {
        "additionalProperties": {"type": "string", "enum": roles}}}}
        for a, roles in per_agency]


# -- parameters ----------------------------------------------------------------------------
def _parameters(operation: dict) -> None:
    names = {p.get("name") for p in operation.get("parameters", [])}
    for parameter in operation.get("parameters", []):
        if parameter.get("in") == "query" and parameter.get("name") in INSTANT_PARAMS:
            parameter["schema"] = dict(INSTANT)
        _text(parameter.get("schema", {}))
    if names >= INSTANT_PARAMS:
        operation["description"] = _sentence(operation.get("description"), RANGE_NOTE)


def _audit_tree(paths: dict) -> None:
    """Tree sizes run from 1 to the size of the tree now (it only grows)."""
    from hub.auditlog.tree import tree_size

    size = tree_size()
    for path in ("/audit/events/{seq}/proof", "/audit/consistency"):
        for parameter in paths.get(path, {}).get("get", {}).get("parameters", []):
            if parameter.get("in") == "query":
                parameter["schema"]["maximum"] = size
                parameter["description"] = "at most the size of the tree now " \
                    "(GET /audit/checkpoint gives the latest signed one)"
    consistency = paths.get("/audit/consistency", {}).get("get")
    if consistency:
        consistency["description"] = _sentence(consistency.get("description"),
                                               "first must not be larger than second")
    proof = paths.get("/audit/events/{seq}/proof", {}).get("get")
    if proof:
        proof["description"] = _sentence(proof.get("description"),
                                         "tree_size must include the event")


def _sentence(before: str | None, rule: str) -> str:
    rule = f"{rule[0].upper()}{rule[1:]}."
    return f"{before} {rule}" if before else rule


# -- text ------------------------------------------------------------------------------------
def _text(schema) -> None:
    """Every free-text string in ``schema`` (at any depth) refuses NUL, within its lengths."""
    if isinstance(schema, list):
        for item in schema:
            _text(item)
        return
    if not isinstance(schema, dict):
        return
    for value in schema.values():
        if isinstance(value, dict | list):
            _text(value)
    if schema.get("type") == "string" and not ({"enum", "format", "pattern", "anyOf"}
                                               & set(schema)):
        low, high = schema.get("minLength", 0), schema.get("maxLength")
        schema["pattern"] = f"^{NO_NUL}{{{low},{'' if high is None else high}}}$"
