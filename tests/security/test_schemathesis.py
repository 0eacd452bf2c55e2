"""Property-based fuzzing of the whole JSON API from its own OpenAPI description.

Schemathesis generates requests for every operation of the description and calls the hub
in process (WSGI) as the user each part of the API is for. No response may be a 5xx, and
every response must match what the description says (status code, content type, schema).
Bounded: 20 valid and 20 invalid examples an operation. (Schemathesis' own pytest plugin
does not run under pytest 9, so the operations are driven through Hypothesis directly.)
"""

from __future__ import annotations

import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode, checks

# Every check but "positive data acceptance": schema-valid input may still be refused with a
# 400 naming the field (an unknown agency, a role the policy lacks), which is right; and
# "ignored auth", because each case is sent with a real token (tests/security covers auth).
CHECKS = [checks.not_a_server_error, checks.status_code_conformance,
          checks.content_type_conformance, checks.response_schema_conformance,
          checks.response_headers_conformance, checks.negative_data_rejection]
ROLE_FOR = {"/admin": "admin", "/audit": "dpo", "/dpo": "dpo", "/people": "dpo"}
EXAMPLES = 20


def _user_for(path: str) -> str:
    return next((user for prefix, user in ROLE_FOR.items() if path.startswith(prefix)),
                "police.officer")


def _operations(app):
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    return [result.ok() for result in schema.get_all_operations()]


def _fuzz(operation, headers: dict, mode) -> None:
    @settings(max_examples=EXAMPLES, deadline=None, derandomize=True, database=None,
              suppress_health_check=list(HealthCheck))
    @given(case=operation.as_strategy(generation_mode=mode))
    def run(case):
        case.headers = {**(case.headers or {}), **headers}
        case.call_and_validate(checks=CHECKS)

    run()


def test_api_never_errors_and_keeps_to_its_description(app, session, tokens):
    operations = _operations(app)
    assert len(operations) >= 30
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
            _fuzz(operation, tokens[_user_for(operation.path)], mode)


def test_the_description_covers_every_api_route(app, client):
    spec = client.get("/api/v1/openapi.json").json
    described = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = rule.rule.removeprefix("/api/v1").replace("<int:", "{").replace("<", "{")
            path = path.replace(">", "}")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (path, method.lower()) in described, (path, method)
