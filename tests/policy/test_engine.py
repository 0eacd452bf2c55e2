"""The compiled policy answers decide, redact and explain from the same rules."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from hub.policy import ClassAction, Permission, Principal, Relationship, load_policy
from hub.policy.engine import DEFAULT_DENY, NO_RELATIONSHIP
from hub.policy.permissions import CASE_STATUSES
from tests.support.apps import demo_case_ids

POLICY = load_policy(Path(__file__).resolve().parents[2] / "policies")
ROLES = [(a, r) for a, spec in POLICY.set.agencies.items() for r in spec["roles"]]
FACTS = list(itertools.product(ROLES, [*POLICY.set.area_rules, "cheshire"],
                               [None, *Relationship], [*CASE_STATUSES, None]))


@pytest.fixture(autouse=True)
def _answers_worked_out_afresh():
    """The policy caches its answers; each test starts without them, so that under
    mutation testing (whose runs fork from a process that ran these tests already) the
    mutated engine is what answers."""
    for answer in vars(POLICY).values():
        if hasattr(answer, "cache_clear"):
            answer.cache_clear()


@pytest.mark.parametrize(("role", "area", "relationship", "status"), FACTS)
def test_every_decision_names_the_rule_that_decided_it(role, area, relationship, status):
    decision = POLICY.case_decision(Principal(1, "u", *role), area, relationship, status)
    for name, action in itertools.product(POLICY.classes, ClassAction):
        why = POLICY.explain(Principal(1, "u", *role), area, relationship, name, action, status)
        # A grant for some kinds only is a grant: of reading (read[name].kinds) or of
        # writing (write_kinds), and the explanation says which kinds.
        granted = (decision.can_write(name) or name in decision.write_kinds) \
            if action == ClassAction.WRITE else name in decision.read
        assert why.allowed == granted, (name, action, str(why))
        if why.allowed:  # an allow always names a real rule and its file
            rule = next(r for r in POLICY.set.base_rules if r.id == why.rule)
            assert rule.effect == "allow" and name in rule.classes and why.source == rule.source
        elif why.source:  # a named deny is a real deny rule that covers the class
            rules = [*POLICY.set.base_rules, *POLICY.set.area_rules.get(area, ())]
            rule = next(r for r in rules if r.id == why.rule)
            assert rule.effect == "deny" and name in rule.classes
        else:
            assert why.rule in {DEFAULT_DENY, NO_RELATIONSHIP, "unknown-area"}
        assert str(why)


def test_rule_3_wins_over_break_glass_and_is_explained():
    for role in [("nhs", "clinician"), ("probation", "probation_officer")]:
        for relationship in Relationship:
            decision = POLICY.case_decision(Principal(1, "u", *role), "london", relationship,
                                            "active")
            assert "victim.location" in decision.withheld
            assert decision.explain("victim.location").rule == \
                "never-victim-location-to-perpetrator-facing"


def test_an_unknown_status_fails_closed():
    police = Principal(1, "u", "police", "officer")
    unknown = POLICY.case_decision(police, "london", Relationship.MEMBER, None)
    closed = POLICY.case_decision(police, "london", Relationship.MEMBER, "closed")
    assert unknown.write == closed.write == frozenset({"case.core"})
    assert unknown.explain("orders", ClassAction.WRITE).rule == "closed-cases-read-only"


def test_permission_decisions_are_explained():
    dpo = Principal(1, "dpo", "hub", "dpo")
    assert POLICY.explain_permission(dpo, Permission.POLICY_READ).allowed
    denied = POLICY.explain_permission(Principal(1, "p", "police", "officer"),
                                       Permission.POLICY_READ)
    assert not denied.allowed and "lacks policy:read" in str(denied)
    assert not POLICY.explain_permission(None, Permission.POLICY_READ).allowed
    with pytest.raises(TypeError):
        POLICY.has_permission(dpo, "policy:read")


def test_closed_cases_are_read_only_through_the_api(api, session):
    case_id = min(demo_case_ids(session).values())  # London, active
    police = api("police.officer")
    version = police.get(f"/cases/{case_id}").json["version"]
    closed = police.patch(f"/cases/{case_id}", json={
        "version": version, "status": "closed", "closure_reason": "Closed for the test."})
    assert closed.status_code == 200, closed.json
    note = {"body": "after closure", "class": "orders", "kind": "note"}
    refused = police.post(f"/cases/{case_id}/notes", json=note)
    assert refused.status_code == 403
    assert police.get(f"/cases/{case_id}").status_code == 200  # still readable
    reopened = police.patch(f"/cases/{case_id}",
                            json={"version": closed.json["version"], "status": "active"})
    assert reopened.status_code == 200
    assert police.post(f"/cases/{case_id}/notes", json=note).status_code == 201
