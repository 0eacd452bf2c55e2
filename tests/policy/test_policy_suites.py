"""The policy test suites in policies/tests pass, and every rule is pinned by at least one.

The mutation tests change a copy of policies/ and check that some policy test then fails:
a rule no test notices could be deleted, or silently changed, without anyone finding out.
They drop each rule (and each role permission) in turn, and change each rule of base.yaml
and of every area file one way at a time (flip its effect, drop one agency, role, action,
class, relationship, kind or status, drop its statuses or kinds condition, make it stop
holding in one status). A mutant that cannot change any answer is listed in EQUIVALENT
with the reason; one the loader refuses is listed in REFUSED with the loader's words.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from hub.policy import PolicyError, load_policy
from hub.policy.permissions import CASE_STATUSES
from hub.policy.suites import load_suites, run
from tests.support.apps import ROOT

POLICIES = ROOT / "policies"


def _rule_files() -> list[Path]:
    return [POLICIES / "base.yaml", *sorted((POLICIES / "areas").glob("*.yaml"))]


def _every_rule() -> list[tuple[str, str]]:
    found = []
    for path in _rule_files():
        for rule in yaml.safe_load(path.read_text())["rules"]:
            found.append((path.relative_to(POLICIES).as_posix(), rule["id"]))
    return found


def _every_permission() -> list[tuple[str, str, str]]:
    agencies = yaml.safe_load((POLICIES / "roles.yaml").read_text())["agencies"]
    return [(agency, role, perm) for agency, spec in agencies.items()
            for role, perms in spec["roles"].items() for perm in perms]


@pytest.fixture(scope="module")
def suites():
    return load_suites(POLICIES / "tests")


def test_the_policy_passes_its_suites(suites):
    report = run(load_policy(POLICIES), suites)
    assert report.tests >= 90
    assert report.ok, "\n".join(map(str, report.failures))


def test_suites_cover_every_rule_of_domain_md(suites):
    names = " ".join(t["name"] for s in suites.values() for t in s["tests"])
    for topic in ("rule 2", "rule 3", "rule 4", "rule 5", "rule 8", "break-glass", "closed",
                  "hampshire"):
        assert topic in names, f"no policy test about {topic}"


def _mutated(tmp_path: Path, edit) -> Path:
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    edit(copy)
    return copy


@pytest.mark.parametrize(("file", "rule_id"), _every_rule())
def test_removing_any_rule_fails_a_policy_test(tmp_path, suites, file, rule_id):
    def drop(copy: Path) -> None:
        path = copy / file
        data = yaml.safe_load(path.read_text())
        data["rules"] = [r for r in data["rules"] if r["id"] != rule_id]
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    mutated = load_policy(_mutated(tmp_path, drop))
    assert rule_id not in _rules_by_id(mutated)
    report = run(mutated, suites)
    assert not report.ok, f"no policy test notices that rule {rule_id} ({file}) is gone"


@pytest.mark.parametrize(("agency", "role", "permission"), _every_permission())
def test_removing_any_permission_fails_a_policy_test(tmp_path, suites, agency, role,
                                                     permission):
    def drop(copy: Path) -> None:
        path = copy / "roles.yaml"
        data = yaml.safe_load(path.read_text())
        data["agencies"][agency]["roles"][role].remove(permission)
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    report = run(load_policy(_mutated(tmp_path, drop)), suites)
    assert not report.ok, f"no policy test notices {agency}/{role} losing {permission}"


def test_a_wrong_expectation_is_reported_with_suite_and_test(tmp_path):
    suite_dir = tmp_path / "tests"
    suite_dir.mkdir()
    (suite_dir / "wrong.yaml").write_text(yaml.safe_dump({"name": "wrong", "tests": [{
        "name": "nhs wrongly expected to read victim.location",
        "principal": {"agency": "nhs", "role": "clinician"},
        "action": "read", "allow": ["case.core", "victim.location"]}]}))
    report = run(load_policy(POLICIES), load_suites(suite_dir))
    assert {str(f).split(": ")[0] for f in report.failures} == {"wrong.yaml"}
    assert {f.test for f in report.failures} == {"nhs wrongly expected to read victim.location"}
    problems = [f.problem for f in report.failures]
    assert "read denied but expected allow: ['victim.location']" in problems
    assert ("read allowed but expected deny: ['clinical', 'clinical.summary', 'legal.outcome', "
            "'orders', 'perpetrator.identity', 'perpetrator.offending', 'supervision', "
            "'victim.identity']") in problems


def _every_filing() -> list[tuple[str, str]]:
    kinds = yaml.safe_load((POLICIES / "kinds.yaml").read_text())["kinds"]
    return [(kind, name) for kind, names in kinds.items() for name in names]


def _every_about() -> list[tuple[str, str]]:
    about = yaml.safe_load((POLICIES / "kinds.yaml").read_text())["about"]
    return [(name, party) for name, parties in about.items() for party in parties]


def _edit_kinds(tmp_path: Path, section: str, key: str, edit):
    def change(copy: Path) -> None:
        path = copy / "kinds.yaml"
        data = yaml.safe_load(path.read_text())
        edit(data[section][key])
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    return load_policy(_mutated(tmp_path, change))


@pytest.mark.parametrize(("kind", "info_class"), _every_filing())
def test_taking_any_class_from_a_kind_fails_a_policy_test(tmp_path, suites, kind, info_class):
    """A kind that may no longer be filed as a class must be noticed..."""
    def take(names: list[str]) -> None:
        names.remove(info_class)
        if not names:  # a kind must keep a class: move it to another one instead
            names.append("orders" if info_class != "orders" else "case.core")

    try:
        mutated = _edit_kinds(tmp_path, "kinds", kind, take)
    except PolicyError:
        return  # a rule limited to that kind no longer loads: noticed
    assert not run(mutated, suites).ok, f"no policy test notices {kind} losing {info_class}"


def test_giving_a_kind_another_class_fails_a_policy_test(tmp_path, suites):
    """...and so must one that may suddenly be filed as a class it was not before."""
    mutated = _edit_kinds(tmp_path, "kinds", "safety_plan", lambda names: names.append("orders"))
    report = run(mutated, suites)
    assert [f.test for f in report.failures] == [
        "a safety plan is only ever victim support (issue 10)"]


@pytest.mark.parametrize(("info_class", "party"), _every_about())
def test_changing_whom_a_class_is_about_fails_a_policy_test(tmp_path, suites, info_class,
                                                            party):
    other = {"victim": "perpetrator", "perpetrator": "victim"}[party]

    def swap(parties: list[str]) -> None:
        parties[parties.index(party)] = other

    mutated = _edit_kinds(tmp_path, "about", info_class, swap)
    assert not run(mutated, suites).ok, f"no policy test notices {info_class} not being " \
                                        f"about the {party}"


# -- mutants of every rule: its effect and its conditions, not only its presence -----------
def _rules_by_id(policy) -> dict:
    """Every rule the policy loaded, base and area files alike."""
    rules = [*policy.set.base_rules, *(r for rs in policy.set.area_rules.values() for r in rs)]
    return {r.id: r for r in rules}


@dataclass(frozen=True)
class Mutant:
    """One small change to one rule, as a person editing the YAML might make it."""

    file: str
    rule_id: str
    change: str  #: e.g. "effect flipped", "agencies without nhs"
    edit: Callable[[dict], None]  #: applies the change to the rule's YAML mapping

    @property
    def id(self) -> str:
        return f"{self.rule_id}: {self.change}"


_LISTS = ("agencies", "actions", "classes", "relationship", "kinds", "statuses")


def _flip(rule: dict) -> None:
    """The opposite effect, with the conditions the language demands of it (a deny takes
    no relationship or kinds; an allow needs a relationship), so that the mutant loads."""
    if rule["effect"] == "allow":
        rule.update(effect="deny")
        rule.pop("relationship", None)
        rule.pop("kinds", None)
    else:
        rule.update(effect="allow", relationship=["member", "break_glass"])


def _without(key: str, value: str) -> Callable[[dict], None]:
    return lambda rule: rule[key].remove(value)


def _drop(key: str) -> Callable[[dict], None]:
    return lambda rule: rule.pop(key)


def _set(key: str, values: list[str]) -> Callable[[dict], None]:
    return lambda rule: rule.update({key: values})


def _mutants_of(file: str, rule: dict, roles: dict) -> list[Mutant]:
    """Dropping the only item of a list would empty it: the loader refuses an empty list,
    and a rule matching nothing is the rule removed, which the test above covers."""
    found = [Mutant(file, rule["id"], "effect flipped", _flip)]
    for key in _LISTS:
        if len(rule.get(key, ())) >= 2:
            found += [Mutant(file, rule["id"], f"{key} without {v}", _without(key, v))
                      for v in rule[key]]
    found += [Mutant(file, rule["id"], f"no {key} condition", _drop(key))
              for key in ("statuses", "kinds") if key in rule]
    every_role = [r for agency in rule["agencies"] for r in roles[agency]["roles"]]
    if "roles" not in rule and len(every_role) >= 2:  # "every role" written out, one missed
        found += [Mutant(file, rule["id"], f"roles without {r}",
                         _set("roles", [x for x in every_role if x != r])) for r in every_role]
    if "statuses" not in rule:  # a rule for every status made to stop holding in one
        found += [Mutant(file, rule["id"], f"not when {s}",
                         _set("statuses", [x for x in CASE_STATUSES if x != s]))
                  for s in CASE_STATUSES]
    return found


def _every_mutant() -> list[Mutant]:
    roles = yaml.safe_load((POLICIES / "roles.yaml").read_text())["agencies"]
    return [mutant for path in _rule_files()
            for rule in yaml.safe_load(path.read_text())["rules"]
            for mutant in _mutants_of(path.relative_to(POLICIES).as_posix(), rule, roles)]


MUTANTS = _every_mutant()

# Mutants that cannot change any answer of the policy, each with the reason.
_CLOSED = ("every class it grants is denied on a closed case by closed-cases-read-only, "
           "which wins over any allow; it grants no case.core, the one class a closed case "
           "leaves writable")
EQUIVALENT = {
    "nhs-write: not when closed": _CLOSED,
    "probation-write: not when closed": _CLOSED,
    "cps-write: not when closed": _CLOSED,
    "police-write-risk-answers: not when closed": _CLOSED,
}
# Mutants the loader refuses (so the hub would not start), with the loader's reason.
REFUSED = {
    "hampshire-no-clinical-summary-to-probation: effect flipped":
        "area policies may only narrow the base policy",
}


def _shape(rule) -> dict:
    """A loaded rule as the YAML mapping that would produce it (to check the mutation)."""
    out = {"effect": rule.effect, "agencies": set(rule.agencies),
           "actions": {a.value for a in rule.actions}, "classes": set(rule.classes),
           "relationship": {r.value for r in rule.relationship}}
    for key in ("roles", "kinds", "statuses"):
        if getattr(rule, key) is not None:
            out[key] = set(getattr(rule, key))
    return out


def _expected_shape(mutant: Mutant) -> dict:
    rule = next(r for r in yaml.safe_load((POLICIES / mutant.file).read_text())["rules"]
                if r["id"] == mutant.rule_id)
    mutant.edit(rule)
    keys = ("agencies", "roles", "actions", "classes", "kinds", "statuses")
    return {"effect": rule["effect"], "relationship": set(rule.get("relationship", ())),
            **{k: set(rule[k]) for k in keys if k in rule}}


def _load_mutant(tmp_path: Path, mutant: Mutant):
    def edit(copy: Path) -> None:
        path = copy / mutant.file
        data = yaml.safe_load(path.read_text())
        mutant.edit(next(r for r in data["rules"] if r["id"] == mutant.rule_id))
        path.write_text(yaml.safe_dump(data, sort_keys=False))

    return load_policy(_mutated(tmp_path, edit))


@pytest.mark.parametrize("mutant", MUTANTS, ids=lambda m: f"{m.file}:{m.id}")
def test_every_mutant_of_every_rule_fails_a_policy_test(tmp_path, suites, mutant):
    try:
        policy = _load_mutant(tmp_path, mutant)
    except PolicyError as exc:
        assert mutant.id in REFUSED, f"the loader refuses {mutant.id}: {exc}"
        assert REFUSED[mutant.id] in str(exc), exc
        return
    assert mutant.id not in REFUSED, f"{mutant.id} loads: take it off REFUSED"
    assert _shape(_rules_by_id(policy)[mutant.rule_id]) == _expected_shape(mutant)
    report = run(policy, suites)
    if mutant.id in EQUIVALENT:
        assert report.ok, f"a policy test notices {mutant.id}: take it off EQUIVALENT"
    else:
        assert not report.ok, f"no policy test notices {mutant.id} ({mutant.file})"


def test_the_mutants_reach_every_rule_and_the_lists_name_real_mutants():
    ids = {m.id for m in MUTANTS}
    assert set(EQUIVALENT) <= ids and set(REFUSED) <= ids
    assert {m.rule_id for m in MUTANTS} == {rule_id for _f, rule_id in _every_rule()}
    assert any(m.file.startswith("areas/") for m in MUTANTS)
    changes = {m.change.split(" ")[0] for m in MUTANTS}
    assert {"effect", "agencies", "classes", "no", "roles", "not"} <= changes
