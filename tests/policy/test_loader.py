"""Loading validates everything and fails naming file, rule and problem; `hub policy`
commands say so and exit non-zero (run as the real console script)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from hub.policy import PolicyError, load_policy
from hub.policy.permissions import CASE_STATUSES, ENTRY_KINDS
from tests.support.apps import ROOT, child_env

POLICIES = ROOT / "policies"
HUB = Path(sys.executable).with_name("hub")


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    return copy


def _edit_rule(copy: Path, file: str, rule_id: str, **changes) -> None:
    path = copy / file
    data = yaml.safe_load(path.read_text())
    for rule in data["rules"]:
        if rule["id"] == rule_id:
            rule.update(changes)
            for key in [k for k, v in changes.items() if v is None]:
                del rule[key]
    path.write_text(yaml.safe_dump(data, sort_keys=False))


def _add_rule(copy: Path, file: str, rule: dict) -> None:
    path = copy / file
    data = yaml.safe_load(path.read_text())
    data["rules"].append(rule)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


DENY = {"id": "extra-deny", "effect": "deny", "agencies": ["cps"], "actions": ["read"],
        "classes": ["legal"]}

BROKEN = {
    "unknown class": (lambda c: _edit_rule(c, "base.yaml", "nhs-read",
                                           classes=["case.core", "victim.lokation"]),
                      "base.yaml: rule nhs-read: unknown class 'victim.lokation'"),
    "unknown agency": (lambda c: _edit_rule(c, "base.yaml", "cps-read", agencies=["cpz"]),
                       "base.yaml: rule cps-read: unknown agency 'cpz'"),
    "unknown role": (lambda c: _edit_rule(c, "base.yaml", "cps-read", roles=["judge"]),
                     "base.yaml: rule cps-read: unknown role 'judge'"),
    "misspelt field": (lambda c: _edit_rule(c, "base.yaml", "cps-write", agences=["cps"]),
                       "base.yaml: rule cps-write: {'agences': ['Unknown field.']}"),
    "unknown status": (lambda c: _edit_rule(c, "base.yaml", "closed-cases-read-only",
                                            statuses=["archived"]),
                       "base.yaml: rule closed-cases-read-only: {'statuses'"),
    "unknown kind": (lambda c: _edit_rule(c, "base.yaml", "police-read-safety-plan",
                                          kinds=["safety-plan"]),
                     "base.yaml: rule police-read-safety-plan: {'kinds'"),
    "allow without relationship": (
        lambda c: _edit_rule(c, "base.yaml", "nhs-write", relationship=None),
        "base.yaml: rule nhs-write: an allow rule must name its relationship"),
    "deny with kinds": (lambda c: _add_rule(c, "base.yaml", {**DENY, "kinds": ["note"]}),
                        "base.yaml: rule extra-deny: a deny rule always applies"),
    "allow in an area file": (
        lambda c: _add_rule(c, "areas/hampshire.yaml", {
            **DENY, "effect": "allow", "relationship": ["member"]}),
        "hampshire.yaml: rule extra-deny: area policies may only narrow the base policy"),
    "duplicate id": (lambda c: _add_rule(c, "areas/london.yaml", {**DENY, "id": "nhs-read"}),
                     "london.yaml: rule nhs-read: id already used in base.yaml"),
    "not YAML": (lambda c: (c / "base.yaml").write_text("rules: [unclosed\n"),
                 "base.yaml: cannot be read as YAML"),
    "unknown permission": (
        lambda c: (c / "roles.yaml").write_text((c / "roles.yaml").read_text().replace(
            "analyst: [case:list]", "analyst: [case:list, case:delete]")),
        "roles.yaml: agency police role analyst: 'case:delete' is not a valid Permission"),
    "area file named for another area": (
        lambda c: shutil.copy(c / "areas/london.yaml", c / "areas/cheshire.yaml"),
        "cheshire.yaml: area 'london' must match the file name"),
    "no base.yaml": (lambda c: (c / "base.yaml").unlink(), "no base.yaml"),
}


@pytest.mark.parametrize("problem", sorted(BROKEN))
def test_a_broken_policy_fails_naming_file_rule_and_problem(tmp_path, problem):
    edit, message = BROKEN[problem]
    copy = _copy(tmp_path)
    edit(copy)
    with pytest.raises(PolicyError) as caught:
        load_policy(copy)
    assert message in str(caught.value)


def test_the_shipped_policy_loads():
    assert load_policy(POLICIES).digest


@pytest.mark.parametrize(("column", "words"), [("status", CASE_STATUSES),
                                               ("kind", ENTRY_KINDS)])
def test_the_migrated_database_takes_exactly_the_vocabulary(app, session, column, words):
    """hub/vocabulary.py is the one list; migrations keep the lists they were written
    with, so the database built from them must still take every word and nothing else."""
    import sqlalchemy as sa
    from sqlalchemy.exc import IntegrityError

    table = "cases" if column == "status" else "entries"
    row = session.execute(sa.text(f"SELECT id FROM {table} LIMIT 1")).scalar_one()  # noqa: S608
    for word in (*words, "not-a-word"):
        nested = session.begin_nested()
        try:
            session.execute(sa.text(f"UPDATE {table} SET {column} = :w WHERE id = :id"),  # noqa: S608
                            {"w": word, "id": row})
            nested.commit()
            assert word != "not-a-word", f"the database took {column} {word!r}"
        except IntegrityError:
            nested.rollback()
            assert word == "not-a-word", f"the database refused {column} {word!r}"


def test_the_digest_covers_policy_files_but_not_their_tests(tmp_path):
    copy = _copy(tmp_path)
    before = load_policy(copy).digest
    (copy / "tests" / "extra.yaml").write_text("# a new suite does not change the policy\n")
    assert load_policy(copy).digest == before
    (copy / "areas" / "london.yaml").write_text(
        (copy / "areas" / "london.yaml").read_text() + "# a comment is a change\n")
    assert load_policy(copy).digest != before


def _hub(*args: str, policy_dir: Path | None = None) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if k != "HUB_POLICY_DIR"}
    if policy_dir is not None:
        env["HUB_POLICY_DIR"] = str(policy_dir)
    return subprocess.run([str(HUB), "policy", *args], capture_output=True, text=True,  # noqa: S603
                          env=child_env(env), cwd=ROOT, timeout=60, check=False)


def test_hub_policy_check_prints_the_digest():
    result = _hub("check")
    assert result.returncode == 0, result.stderr
    assert f"digest {load_policy(POLICIES).digest}" in result.stdout


def test_hub_policy_check_refuses_a_broken_copy_via_dir_and_via_env(tmp_path):
    copy = _copy(tmp_path)
    BROKEN["unknown class"][0](copy)
    for result in (_hub("check", "--dir", str(copy)), _hub("check", policy_dir=copy)):
        assert result.returncode != 0
        assert "policy is invalid: base.yaml: rule nhs-read: unknown class 'victim.lokation'" \
            in result.stderr
        assert "Traceback" not in result.stderr


def test_hub_policy_test_passes_and_fails_with_the_failing_test_named(tmp_path):
    passed = _hub("test")
    assert passed.returncode == 0, passed.stderr
    assert "policy tests passed" in passed.stdout
    copy = _copy(tmp_path)
    _edit_rule(copy, "base.yaml", "never-victim-location-to-perpetrator-facing",
               agencies=["nhs"])  # probation would no longer be covered by rule 3
    failed = _hub("test", "--dir", str(copy))
    assert failed.returncode != 0
    assert "FAIL conditions.yaml: rule 3 holds even if a rule wrongly allows probation" \
        in failed.stderr


def test_hub_policy_matrix_is_markdown_and_marks_conditions():
    result = _hub("matrix", "--area", "london")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert "| agency/role | class | read | write | break-glass read |" in lines
    assert "| police/officer | victim.support | R (safety_plan only) | " \
           "W (risk_assessment only) (not when closed) | R (safety_plan only) |" in lines
    assert "| police/officer | orders | R | W (not when closed) | R |" in lines
    assert not any(line.startswith(("| nhs/", "| probation/")) and "victim.location" in line
                   for line in lines)
