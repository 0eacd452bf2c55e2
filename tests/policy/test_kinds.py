"""policies/kinds.yaml: the classes each entry kind may take and whom each class is about,
validated at load; and the engine's answers about who reads what a note's author writes
(issue 10, defects 2 and 3)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import yaml

from hub.policy import PolicyError, load_policy
from hub.policy.permissions import ENTRY_KINDS
from tests.support.apps import ROOT

POLICIES = ROOT / "policies"
POLICY = load_policy(POLICIES)
AGENCIES = ["police", "nhs", "probation", "cps", "advocacy"]


def _copy(tmp_path: Path) -> Path:
    copy = tmp_path / "policies"
    shutil.copytree(POLICIES, copy)
    return copy


def _edit_kinds(copy: Path, edit) -> None:
    path = copy / "kinds.yaml"
    data = yaml.safe_load(path.read_text())
    edit(data)
    path.write_text(yaml.safe_dump(data, sort_keys=False))


BROKEN = {
    "unknown kind": (lambda d: d["kinds"].update({"safety-plan": ["victim.support"]}),
                     "kinds.yaml: kind 'safety-plan': unknown kind"),
    "unknown class": (lambda d: d["kinds"].update({"order": ["orders", "victim.lokation"]}),
                      "kinds.yaml: kind 'order': unknown class 'victim.lokation'"),
    "a kind left out": (lambda d: d["kinds"].pop("breach"),
                        "kinds.yaml: kind 'breach' is not listed"),
    "a kind with no class": (lambda d: d["kinds"].update({"breach": []}),
                             "kinds.yaml: {'kinds'"),
    "about an unknown class": (lambda d: d["about"].update({"victim.lokation": ["victim"]}),
                               "kinds.yaml: about 'victim.lokation': unknown class"),
    "about an unknown party": (lambda d: d["about"].update({"orders": ["witness"]}),
                               "kinds.yaml: about 'orders': unknown party 'witness'"),
    "a class about nobody": (lambda d: d["about"].pop("orders"),
                             "kinds.yaml: about 'orders' is not listed"),
    "misspelt section": (lambda d: d.update({"kindz": d.pop("kinds")}),
                         "kinds.yaml: {'"),
}


@pytest.mark.parametrize("problem", sorted(BROKEN))
def test_a_broken_kinds_file_fails_naming_the_kind_or_class(tmp_path, problem):
    edit, message = BROKEN[problem]
    copy = _copy(tmp_path)
    _edit_kinds(copy, edit)
    with pytest.raises(PolicyError) as caught:
        load_policy(copy)
    assert message in str(caught.value)


def test_a_missing_kinds_file_is_a_load_error(tmp_path):
    copy = _copy(tmp_path)
    (copy / "kinds.yaml").unlink()
    with pytest.raises(PolicyError, match=r"kinds\.yaml"):
        load_policy(copy)


def test_a_rule_limited_to_kinds_its_class_never_takes_is_a_load_error(tmp_path):
    copy = _copy(tmp_path)
    _edit_kinds(copy, lambda d: d["kinds"].update({"safety_plan": ["victim.location"]}))
    with pytest.raises(PolicyError) as caught:
        load_policy(copy)
    assert "base.yaml: rule police-read-safety-plan: no entry of kind safety_plan may be " \
           "filed as victim.support" in str(caught.value)


def test_kinds_file_is_part_of_the_digest(tmp_path):
    copy = _copy(tmp_path)
    before = load_policy(copy).digest
    _edit_kinds(copy, lambda d: d["kinds"]["breach"].append("case.core"))
    assert load_policy(copy).digest != before


def test_every_kind_is_listed_and_every_class_takes_a_plain_note():
    assert set(POLICY.set.kinds) == set(ENTRY_KINDS)
    assert POLICY.kind_classes("note") == frozenset(POLICY.classes)  # CONTRACT's note route
    assert POLICY.kind_classes("safety_plan") == {"victim.support"}
    assert not POLICY.may_file("safety_plan", "orders")  # the leak issue 10 names
    assert POLICY.may_file("breach", "orders") and not POLICY.may_file("breach", "clinical")
    with pytest.raises(KeyError):
        POLICY.kind_classes("not-a-kind")


def test_whom_each_class_is_about():
    for name in ("victim.identity", "victim.location", "victim.support"):
        assert POLICY.about(name) == {"victim"}
    for name in ("perpetrator.identity", "perpetrator.offending", "clinical",
                 "clinical.summary", "orders", "supervision", "intelligence", "legal",
                 "legal.outcome"):
        assert POLICY.about(name) == {"perpetrator"}, name
    assert POLICY.about("case.core") == {"perpetrator", "victim"}


# -- who reads what an author writes -------------------------------------------------------
@pytest.mark.parametrize(("area", "info_class", "kind", "expected"), [
    ("london", "orders", "note", {"police", "nhs", "probation", "cps", "advocacy"}),
    ("london", "case.core", None, {"police", "nhs", "probation", "cps", "advocacy"}),
    ("london", "clinical.summary", "note", {"police", "nhs", "probation"}),
    ("hampshire", "clinical.summary", "note", {"police", "nhs"}),  # the area narrows it
    ("london", "victim.support", "safety_plan", {"police", "advocacy"}),
    ("london", "victim.support", "note", {"advocacy"}),
    ("london", "victim.support", None, {"advocacy"}),  # a whole-class field
    ("london", "victim.location", "note", {"police", "advocacy"}),
    ("london", "intelligence", "intelligence", {"police"}),
    ("cheshire", "orders", "note", set()),  # an area without a policy: nobody
])
def test_readers_are_every_agency_that_could_read_the_entry(area, info_class, kind, expected):
    assert POLICY.readers(area, info_class, kind) == expected


@pytest.mark.parametrize(("area", "info_class", "kind", "expected"), [
    ("london", "orders", "note", {"nhs", "probation", "cps"}),
    ("london", "case.core", None, {"nhs", "probation", "cps"}),
    ("london", "clinical.summary", "note", {"nhs", "probation"}),
    ("hampshire", "clinical.summary", "note", {"nhs"}),
    ("london", "victim.support", "safety_plan", set()),
    ("london", "victim.location", "note", set()),
    ("london", "intelligence", "note", set()),
])
def test_exposed_are_readers_who_may_not_see_the_victims_location(area, info_class, kind,
                                                                 expected):
    assert POLICY.exposed(area, info_class, kind, "victim.location") == expected


def test_perpetrator_facing_agencies_are_those_an_explicit_rule_denies_the_location():
    assert POLICY.forbidden("london", "victim.location") == {"nhs", "probation"}
    assert POLICY.forbidden("hampshire", "clinical.summary") == {"probation"}
    assert POLICY.forbidden("london", "orders") == set()


def test_who_sees_the_whole_of_a_class_as_a_member():
    assert POLICY.sees_whole("police", "officer", "london", "victim.location")
    assert POLICY.sees_whole("advocacy", "advocate", "london", "victim.location")
    for agency, role in (("nhs", "clinician"), ("probation", "probation_officer"),
                         ("cps", "prosecutor"), ("hub", "dpo")):
        assert not POLICY.sees_whole(agency, role, "london", "victim.location"), agency
    assert not POLICY.sees_whole("police", "officer", "london", "victim.support")  # partly
    assert not POLICY.sees_whole("police", "officer", "cheshire", "victim.location")
