"""Agency kinds: the keys of roles.yaml are kinds of agency, and each states whether its
staff do casework. The hub's own staff (administrators, DPOs) do not, and the loader
refuses a policy that would give a kind without casework any way into a case. The policy
speaks of kinds, so a principal's ``agency`` is their agency's kind, never its code."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from hub.policy import PolicyError, Principal, Relationship, load_policy
from tests.support.apps import ROOT

POLICIES = ROOT / "policies"


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    return copy


def _edit_roles(copy: Path, edit) -> None:
    path = copy / "roles.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data["agencies"])
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def test_the_shipped_policy_says_only_the_hubs_own_staff_do_no_casework():
    policy = load_policy(POLICIES)
    assert not policy.does_casework("hub")
    assert policy.casework_kinds() == ("police", "nhs", "probation", "cps", "advocacy")
    assert not policy.does_casework("no-such-kind")  # unknown: fails closed


def test_casework_defaults_to_true_when_a_kind_does_not_say(tmp_path):
    copy = _copy(tmp_path)
    _edit_roles(copy, lambda kinds: kinds["police"].pop("casework", None))
    assert load_policy(copy).does_casework("police")


BROKEN = {
    "casework not a boolean": (
        lambda kinds: kinds["hub"].update(casework="no"),
        "roles.yaml: agency hub: casework must be true or false"),
    "an allow rule for a kind without casework": (
        lambda kinds: kinds["nhs"].update(casework=False, roles={"clinician": []}),
        "base.yaml: rule nhs-read: agency nhs does no casework (roles.yaml): no rule may "
        "give it case content"),
    "a case permission for a kind without casework": (
        lambda kinds: kinds["hub"]["roles"]["dpo"].append("case:list"),
        "roles.yaml: agency hub role dpo: case:list is casework, which agency hub does not do"),
    "a kind named against the code pattern": (
        lambda kinds: kinds.update({"Met Police": kinds["police"]}),
        "roles.yaml: agency 'Met Police': a kind is lower-case letters, digits and hyphens"),
    "an unknown field on a kind": (
        lambda kinds: kinds["hub"].update(casewrok=False),
        "roles.yaml: agency hub: unknown field 'casewrok'"),
}


@pytest.mark.parametrize("problem", sorted(BROKEN))
def test_a_broken_kind_fails_naming_the_file_and_the_problem(tmp_path, problem):
    edit, message = BROKEN[problem]
    copy = _copy(tmp_path)
    _edit_roles(copy, edit)
    with pytest.raises(PolicyError) as caught:
        load_policy(copy)
    assert message in str(caught.value)


def test_a_deny_rule_may_name_a_kind_without_casework(tmp_path):
    copy = _copy(tmp_path)
    path = copy / "base.yaml"
    data = yaml.safe_load(path.read_text())
    data["rules"].append({"id": "extra-deny-hub", "effect": "deny", "agencies": ["hub"],
                          "actions": ["read"], "classes": ["legal"]})
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    assert not load_policy(copy).does_casework("hub")


def _user(code: str, kind: str, user_area: str | None, agency_area: str | None):
    area = lambda code: SimpleNamespace(code=code) if code else None  # noqa: E731
    agency = SimpleNamespace(code=code, kind=kind, area=area(agency_area))
    return SimpleNamespace(id=7, username="u", agency=agency, agency_id=42, role="officer",
                           area=area(user_area))


def test_a_principal_is_their_agency_kind_and_keeps_the_agency_row_for_membership():
    principal = Principal.of(_user("met-police-2", "police", "london", None))
    assert (principal.agency, principal.agency_id, principal.area) == ("police", 42, "london")
    policy = load_policy(POLICIES)
    police = Principal.of(_user("police", "police", "london", None))
    for relationship in Relationship:
        assert policy.case_decision(principal, "london", relationship, "active") == \
            policy.case_decision(police, "london", relationship, "active")


def test_an_agency_with_an_area_serves_only_it_whatever_the_users_row_says():
    assert Principal.of(_user("hants-nhs", "nhs", "london", "hampshire")).area == "hampshire"
    assert Principal.of(_user("nhs", "nhs", None, None)).area is None
