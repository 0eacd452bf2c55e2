"""Property-based fuzzing of the whole JSON API from its own OpenAPI description, with every
check schemathesis has.

Schemathesis' engine (as `st run` drives it) calls the hub in process (WSGI) through all
its phases: the description's examples, coverage (boundary values, missing and unexpected
parameters, methods the description does not list), fuzzing, and stateful sequences that
follow links between operations. Each part of the API is fuzzed as the user it is for.
Every check is on: no 5xx; status codes, content types, headers and bodies as described;
schema-valid requests accepted and schema-violating ones refused; 405 with `Allow` for an
undeclared method; authentication enforced; nothing answered after it was deleted;
responses in reasonable time. (Schemathesis' own pytest plugin does not run under pytest 9.)

A few rules hold across two values and have no JSON Schema form; the description states
them in words, and the hooks below apply them to schema-valid requests, as a client reading
the description would. Everything else a schema-valid request needs is in the description.
"""

from __future__ import annotations

import collections
import itertools
from datetime import date

import pytest
import schemathesis
from schemathesis.config import SchemathesisConfig
from schemathesis.engine import events, from_schema
from sqlalchemy import select

from hub.extensions import db

# (user, the paths fuzzed as that user): who each part of the API is for.
# The case routes and the DPO's (whose searches differ per database) run on both
# databases. The administrator's routes keep no case data and share the input guards the
# case routes prove on PostgreSQL; the perpetrator-facing workers' runs check what the one
# redaction sends, which no database changes, on the routes police.officer fuzzes on
# PostgreSQL too. Those three run on SQLite alone.
SQLITE = pytest.mark.only_on("sqlite")


def _as(user: str, paths: str, *marks):
    return pytest.param(user, paths, marks=marks, id=user)


RUNS = [_as("admin", r"^/admin/", SQLITE),
        _as("dpo", r"^/(audit|dpo|people)/"),
        _as("police.officer", r"^/(?!admin/|audit/|dpo/|people/)"),
        # Perpetrator-facing workers, on every case route: no response may carry a
        # victim's address, phone, email or workplace (DOMAIN rule 3), whatever is sent.
        _as("nhs.clinician", r"^/cases", SQLITE),
        _as("probation.officer", r"^/cases", SQLITE)]
PERPETRATOR_FACING = {"nhs.clinician", "probation.officer"}
# Failures in routes owned elsewhere, reported to their owners: each is let through only in
# exactly this form (operation, check, a text in the request or response) until fixed there.
REPORTED: list[tuple[str, str, str, str]] = []  # none open
EXAMPLES = 10  # per operation and phase: the whole run stays within a few minutes
CHECKS = ["not_a_server_error", "status_code_conformance", "content_type_conformance",
          "response_schema_conformance", "response_headers_conformance",
          "positive_data_acceptance", "negative_data_rejection", "use_after_free",
          "ensure_resource_availability", "missing_required_header", "ignored_auth",
          "object_level_authorization", "unsupported_method", "allow_header_conformance"]


def _config(headers: dict) -> SchemathesisConfig:
    return SchemathesisConfig.from_dict({
        "seed": 2026, "headers": headers, "workers": 1,
        "generation": {"max-examples": EXAMPLES, "deterministic": True, "database": "none"},
        "phases": {name: {"enabled": True}
                   for name in ("examples", "coverage", "fuzzing", "stateful")},
        "checks": {**{name: {"enabled": True} for name in CHECKS},
                   "max_response_time": 30},
    })


@pytest.fixture
def in_process_probes(monkeypatch):
    """Schemathesis' auth probe hands the in-process (WSGI) transport the network settings
    meant for `requests` (max_redirects, verify, cert), which werkzeug's test client
    refuses; drop them there, as its own send does for a `requests` session."""
    import requests
    from schemathesis.transport.wsgi import WSGITransport

    send = WSGITransport.send

    def without_network_settings(self, case, *, session=None, **kwargs):
        if not isinstance(session, requests.Session):
            for name in ("max_redirects", "verify", "cert", "proxies"):
                kwargs.pop(name, None)
        return send(self, case, session=session, **kwargs)

    monkeypatch.setattr(WSGITransport, "send", without_network_settings)


# Hypothesis warns when a generated value's repr is large: not a finding about the hub.
@pytest.mark.filterwarnings("ignore:Generating overly large repr")
# One test per user, so that parallel workers share the run.
@pytest.mark.parametrize(("user", "paths"), RUNS)
def test_every_check_schemathesis_has_passes(app, session, tokens, in_process_probes,
                                            cross_field_rules, user, paths):
    from hub.auditlog import sequencer

    with app.test_request_context():
        sequencer.run_once()  # a signed tree, so that proofs have something to prove
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app,
                                            config=_config(tokens[user]))
    forbidden = _victim_locations() if user in PERPETRATOR_FACING else ()
    failures = _run(schema.include(path_regex=paths), forbidden)
    assert not failures, "\n\n".join(failures)


def _victim_locations() -> list[str]:
    """Every victim location value in the demo data, as a response would carry it."""
    from hub.seed import CASES

    return [victim[field] for case in CASES for victim in case["victims"]
            for field in ("address", "phone", "email", "workplace") if victim.get(field)]


def _run(schema, forbidden=()) -> list[str]:
    out, tested = [], collections.Counter()
    for event in from_schema(schema).execute():
        if isinstance(event, events.NonFatalError | events.FatalError):
            out.append(f"error: {getattr(event, 'label', '')} {event!r}"[:2000])
        if isinstance(event, events.ScenarioFinished | events.FuzzScenarioFinished):
            tested[event.recorder.label] += len(event.recorder.cases)
            out += _failures(event.recorder) + _leaks(event.recorder, forbidden)
    operations = {result.ok().label for result in schema.get_all_operations()}
    untested = sorted(op for op in operations if tested[op] < 3)
    assert operations and not untested, f"too few requests for {untested}: {tested}"
    return out


def _leaks(recorder, forbidden) -> list[str]:
    """Responses to a perpetrator-facing worker that carry a victim's location."""
    out = []
    for case_id, interaction in recorder.interactions.items():
        body = interaction.response.content.decode("utf-8", "replace") \
            if interaction.response else ""
        shown = [value for value in forbidden if value in body]
        if shown:
            case = recorder.cases[case_id].value
            out.append(f"{recorder.label}: victim location {shown} in the answer to "
                       f"{case.method} {case.formatted_path}")
    return out


def _failures(recorder) -> list[str]:
    out = []
    for case_id, checks in recorder.checks.items():
        for check in checks:
            if check.failure_info is None:
                continue
            case = recorder.cases[case_id].value
            interaction = recorder.interactions.get(case_id)
            response = interaction.response if interaction else None
            seen = f"{case.body!r} {response.content if response else b''}"
            if any(recorder.label == op and check.name == name and text in seen
                   for op, name, text, _why in REPORTED):
                continue
            out.append(f"{recorder.label}: {check.name}: {case.method} {case.formatted_path} "
                       f"query={case.query!r} body={str(case.body)[:300]}\n"
                       f"-> {response.status_code if response else '-'} "
                       f"{response.content[:300] if response else ''}\n"
                       f"{check.failure_info.failure.message[:400]}")
    return out


# -- rules across two values, as the description states them ------------------------------
@pytest.fixture
def cross_field_rules(app):
    """A `before_call` hook (schemathesis takes that one globally only), removed after."""
    usernames = itertools.cycle(["outsider.officer", "nhs.clinician", "advocate"])

    def before_call(context, case, kwargs):
        """Applied to the request as sent (after links and examples filled it in)."""
        if case.meta is None or not case.meta.generation.mode.is_positive:
            return
        path, query, body = case.operation.path, case.query or {}, case.body
        if path == "/audit/consistency" and _number(query.get("first")) > _number(
                query.get("second")):
            query["first"], query["second"] = query["second"], query["first"]
        if path == "/audit/events/{seq}/proof" and _number(query.get("tree_size")) < _number(
                case.path_parameters.get("seq")):
            query["tree_size"] = case.path_parameters["seq"]
        if {"since", "until"} <= set(query):
            query.pop("until")  # since alone is always a valid range
        if isinstance(body, dict):
            _body_rules(app, path, case, body, usernames)

    schemathesis.hook(before_call)
    yield
    schemathesis.hooks.unregister(before_call)


def _number(value) -> int:
    """A generated integer, whether sent as a number or as digits (coverage uses both)."""
    return int(value) if str(value).isdigit() else 0


def _body_rules(app, path: str, case, body: dict, usernames) -> None:
    """Values that must name something that exists: a user, a person in the case, the
    person being erased (typed again to confirm), a role of the user's own agency."""
    params = case.path_parameters or {}
    if path == "/cases/{case_id}/members" and "username" in body:
        body["username"] = next(usernames)
    if path == "/cases/{case_id}/notes" and "subject_person_id" in body:
        body.pop("subject_person_id")
    if path == "/cases/{case_id}/people/{person_id}":  # only the fields the person has
        for name in set(body) - _fields_of(params.get("person_id")) - {"version"}:
            body.pop(name)
        if not set(body) - {"version"}:  # every field it sent was one the person lacks
            body["name"] = "A corrected name"
    if path == "/referrals":
        if "other" in body.get("behaviours", []) and not body.get("behaviours_other"):
            body["behaviours_other"] = "Something else"
        if str(body.get("referred_on", "")) > date.today().isoformat():
            body.pop("referred_on")
    if path == "/cases/{case_id}/risk-assessments":
        if "level" in body:  # it may differ from the suggestion: say why
            body["override_reason"] = "A reason for the level given."
        if str(body.get("review_on", "9")) < date.today().isoformat():
            body.pop("review_on")
    if path == "/people/{person_id}/erasure":
        body["confirm"] = _number(params.get("person_id"))
    if path == "/admin/users/{user_id}" and "role" in body:
        body["role"] = _a_role_of(app, _agency_of_user(params.get("user_id")), body["role"])
    if path == "/admin/identity-providers/{provider_id}":
        agency = body.get("agency") or _agency_of_provider(params.get("provider_id"))
        role_map = body.setdefault("role_map", {"stac-worker": ""}) if "agency" in body \
            else body.get("role_map", {})
        for claim, role in role_map.items():  # the stored map must fit a new agency too
            role_map[claim] = _a_role_of(app, agency, role)
    if isinstance(body.get("role_map"), dict):  # OpenAPI 3.0 cannot describe keys
        body["role_map"] = {k: v for k, v in body["role_map"].items()
                            if 1 <= len(k) <= 64 and "\x00" not in k} \
            or {"stac-worker": next(iter(body["role_map"].values()), "officer")}


def _agency_of_user(user_id) -> str | None:
    from hub.accounts.models import User

    user = db.session.get(User, _number(user_id)) if _number(user_id) else None
    return user.agency.code if user else None


def _fields_of(person_id) -> set[str]:
    """What the description says a person of that party has (everything, if none)."""
    from hub.cases.models import PERSON_FIELDS, CaseParty

    party = db.session.scalar(select(CaseParty.party).where(
        CaseParty.person_id == _number(person_id)).limit(1))
    return set(PERSON_FIELDS[party]) if party else set().union(*PERSON_FIELDS.values())


def _agency_of_provider(provider_id) -> str | None:
    from hub.oidc.models import IdentityProvider

    found = db.session.get(IdentityProvider, _number(provider_id)) if _number(provider_id) \
        else None
    return found.agency.code if found else None


def _a_role_of(app, agency: str | None, role: str) -> str:
    """``role`` if the agency has it, else one it has."""
    roles = sorted(app.extensions["hub.policy"].roles(agency)) if agency else []
    return role if role in roles or not roles else roles[0]


def test_the_description_covers_every_api_route(app, client):
    spec = client.get("/api/v1/openapi.json").json
    described = {(path, method) for path, ops in spec["paths"].items() for method in ops}
    for rule in app.url_map.iter_rules():
        if rule.endpoint.startswith("api."):
            path = rule.rule.removeprefix("/api/v1").replace("<int:", "{").replace("<", "{")
            path = path.replace(">", "}")
            for method in rule.methods - {"HEAD", "OPTIONS"}:
                assert (path, method.lower()) in described, (path, method)


def test_the_demo_users_the_runs_need_exist(session):
    from hub.accounts.models import User

    names = set(session.scalars(select(User.username)))
    assert {"admin", "dpo", "police.officer", "outsider.officer", "nhs.clinician",
            "advocate"} <= names
