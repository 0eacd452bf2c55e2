"""The OpenAPI description states the rules the hub enforces, so that a client built from
it sends requests the hub accepts: date formats, the classes a note may have, exactly one
of username or agency, the bounds on audit tree sizes and the order of first and second,
text without NUL, and 413 for a body that is too large."""

from __future__ import annotations

import re

import pytest

from hub.auditlog import sequencer


@pytest.fixture
def spec(app, client, session):
    with app.test_request_context():
        sequencer.run_once()  # a tree of some size, so that its bound is a real number
    return client.get("/api/v1/openapi.json").json


def _parameter(spec, path: str, name: str, method: str = "get") -> dict:
    return next(p for p in spec["paths"][path][method]["parameters"] if p.get("name") == name)


@pytest.mark.parametrize("path", ["/audit/events", "/audit/events.csv",
                                  "/audit/cases/{case_id}/history"])
def test_since_and_until_are_described_as_dates(spec, path):
    for name in ("since", "until"):
        schema = _parameter(spec, path, name)["schema"]
        assert schema["type"] == "string"
        assert {s.get("format") for s in schema["anyOf"]} == {"date", "date-time"}
    assert "since" in spec["paths"][path]["get"]["description"].lower()


def test_note_classes_and_kinds_are_the_policys(app, spec):
    entry = spec["components"]["schemas"]["EntryIn"]
    policy = app.extensions["hub.policy"]
    assert entry["properties"]["class"]["enum"] == sorted(policy.classes)
    # every kind but a risk assessment, which is recorded with its tool, not as a note
    assert set(entry["properties"]["kind"]["enum"]) == set(policy.set.kinds) - {
        "risk_assessment"}
    safety = next(v for v in entry["anyOf"] if v["properties"]["kind"]["enum"] == ["safety_plan"])
    assert safety["properties"]["class"]["enum"] == ["victim.support"]
    assert set(entry["properties"]["restricted_to"]["items"]["enum"]) >= {"police", "nhs"}


def test_members_take_exactly_one_of_username_or_agency(spec):
    member = spec["components"]["schemas"]["MemberIn"]
    assert member["oneOf"] == [{"required": ["username"]}, {"required": ["agency"]}]
    assert member["additionalProperties"] is False


def test_tree_sizes_are_bounded_by_the_tree_and_ordered(app, spec):
    from hub.auditlog.tree import tree_size

    with app.app_context():
        size = tree_size()
    assert size > 0
    for path, names in [("/audit/consistency", ("first", "second")),
                        ("/audit/events/{seq}/proof", ("tree_size",))]:
        for name in names:
            schema = _parameter(spec, path, name)["schema"]
            assert (schema["minimum"], schema["maximum"]) == (1, size), (path, name)
    assert "first must not be larger than second" in \
        spec["paths"]["/audit/consistency"]["get"]["description"].lower()


def test_free_text_refuses_nul_within_its_lengths(spec):
    body = spec["components"]["schemas"]["EntryIn"]["properties"]["body"]
    assert body["pattern"] == "^[^\\u0000]{1,20000}$"
    assert re.fullmatch(body["pattern"], "a note") and not re.fullmatch(body["pattern"], "a\0")
    q = _parameter(spec, "/cases", "q")["schema"]
    assert q["pattern"] == "^[^\\u0000]{0,100}$"


def test_every_body_may_be_refused_as_too_large(spec):
    operations = [op for ops in spec["paths"].values() for op in ops.values()
                  if "requestBody" in op]
    assert operations and all("413" in op["responses"] for op in operations)


def test_areas_agencies_and_roles_are_named(app, spec):
    schemas = spec["components"]["schemas"]
    assert set(schemas["CaseIn"]["properties"]["area"]["enum"]) >= {"london", "hampshire"}
    police = next(v for v in schemas["UserCreateIn"]["anyOf"]
                  if v["properties"]["agency"]["enum"] == ["police"])
    assert set(police["properties"]["role"]["enum"]) == \
        set(app.extensions["hub.policy"].roles("police"))
    assert schemas["ProviderUpdateIn"]["minProperties"] == 1
    assert "required" not in schemas["ProviderUpdateIn"]
