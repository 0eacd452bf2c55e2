"""The policy test suites in policies/tests pass, and every rule is pinned by at least one.

The mutation test drops each rule (and each role permission) in turn from a copy of
policies/ and checks that some policy test then fails: a rule no test notices could be
deleted, or silently changed, without anyone finding out.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from hub.policy import PolicyError, load_policy
from hub.policy.suites import load_suites, run

ROOT = Path(__file__).resolve().parents[2]
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
    assert rule_id not in {r.id for r in mutated.set.base_rules}
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
