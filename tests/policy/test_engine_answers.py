"""The engine's answers beyond one decision agree with the hand copy of the rules.

The access matrix the DPO reads, the agencies an author is writing for, who an explicit
rule forbids, whom to ask for what was withheld: each is checked here against
tests/support/matrix.py, which was copied from DOMAIN.md without asking hub.policy.
"""

from __future__ import annotations

import shutil
from types import SimpleNamespace

import pytest
import yaml

from hub.policy import Permission, Principal, Relationship, load_policy
from tests.support.apps import ROOT
from tests.support.matrix import (
    AREA_DENIES,
    CLASSES,
    CLOSED_WRITABLE,
    PARTIAL,
    PARTIAL_WRITE,
    READ,
    WRITE,
)

AREAS = sorted(AREA_DENIES)
PARTNERS = sorted(READ)  # the kinds of agency that work cases
LOCATION = "victim.location"


@pytest.fixture
def policy():
    """Loaded afresh for each test: the engine caches its answers on the policy object."""
    return load_policy(ROOT / "policies")


def reads(agency: str, area: str, info_class: str) -> bool:
    return info_class in READ.get(agency, ()) and (agency, info_class) not in AREA_DENIES[area]


def read_cell(agency: str, area: str, info_class: str) -> str:
    if reads(agency, area, info_class):
        return "R"
    kinds = PARTIAL.get((agency, info_class))
    return f"R ({', '.join(sorted(kinds))} only)" if kinds else "-"


def write_cell(agency: str, info_class: str) -> str:
    kinds = PARTIAL_WRITE.get((agency, info_class))
    if info_class not in WRITE.get(agency, ()) and not kinds:
        return "-"
    text = f"W ({', '.join(sorted(kinds))} only)" if kinds else "W"
    return text if info_class in CLOSED_WRITABLE else f"{text} (not when closed)"


def test_the_areas_and_agencies_are_those_the_hand_copy_knows(policy):
    assert sorted(policy.set.area_rules) == AREAS
    assert set(PARTNERS) <= set(policy.set.agencies)
    assert list(policy.classes) == list(CLASSES)


def test_the_matrix_has_one_row_per_area_agency_role_and_class(policy):
    rows = policy.matrix()
    keys = [(r["area"], r["agency"], r["role"], r["class"]) for r in rows]
    expected = [(area, agency, role, c) for area in AREAS
                for agency, spec in policy.set.agencies.items() for role in spec["roles"]
                for c in CLASSES]
    assert keys == expected


@pytest.mark.parametrize("area", AREAS)
def test_every_cell_of_the_matrix_is_the_hand_copys(area, policy):
    wrong = []
    for row in (r for r in policy.matrix() if r["area"] == area):
        agency, name = row["agency"], row["class"]
        want = {"read": read_cell(agency, area, name),
                "write_cell": write_cell(agency, name),
                "write": write_cell(agency, name) != "-",
                # Break-glass lets a supervisor read what their agency's members read.
                "break_glass_read": read_cell(agency, area, name)}
        got = {key: row[key] for key in want}
        if got != want:
            wrong.append((agency, row["role"], name, got, want))
    assert wrong == []


@pytest.mark.parametrize("area", AREAS)
def test_readers_of_an_entry_are_every_agency_that_may_read_it(area, policy):
    for name in CLASSES:
        whole = {a for a in PARTNERS if reads(a, area, name)}
        assert policy.readers(area, name) == whole, name
        for kind in ("safety_plan", "note"):
            partly = {a for a in PARTNERS if kind in PARTIAL.get((a, name), ())}
            assert policy.readers(area, name, kind) == whole | partly, (name, kind)


def test_an_area_the_policy_does_not_know_has_no_readers(policy):
    assert policy.readers("atlantis", "case.core") == frozenset()


@pytest.mark.parametrize("area", AREAS)
def test_exposed_names_who_reads_the_entry_but_not_the_guarded_class(area, policy):
    location = {a for a in PARTNERS if reads(a, area, LOCATION)}
    for name in CLASSES:
        for kind in (None, "safety_plan"):
            readers = {a for a in PARTNERS if reads(a, area, name)
                       or (kind and kind in PARTIAL.get((a, name), ()))}
            assert policy.exposed(area, name, kind, LOCATION) == readers - location, (name, kind)


@pytest.mark.parametrize("area", AREAS)
def test_forbidden_names_only_agencies_an_explicit_rule_denies(area, policy):
    # DOMAIN rule 3: perpetrator-facing workers never see where a victim is.
    assert policy.forbidden(area, LOCATION) == {"nhs", "probation"}
    assert policy.forbidden(area, "clinical.summary") == {
        a for a, c in AREA_DENIES[area] if c == "clinical.summary"}
    # Not read by most agencies, but by default rather than by a rule.
    assert policy.forbidden(area, "intelligence") == frozenset()


@pytest.mark.parametrize("area", AREAS)
def test_sees_whole_means_every_status_and_every_kind(area, policy):
    for agency in PARTNERS:
        role = next(iter(policy.set.agencies[agency]["roles"]))
        for name in CLASSES:
            assert policy.sees_whole(agency, role, area, name) == reads(agency, area, name), \
                (agency, name)


def test_whom_to_ask_for_a_class_is_every_agency_that_writes_it(policy):
    for name in CLASSES:
        assert policy.owners(name) == sorted(a for a in PARTNERS if name in WRITE[a]), name


def test_kinds_of_agency_and_of_entry_are_known_or_not(policy):
    assert all(policy.is_known_kind(a) for a in PARTNERS)
    assert not policy.is_known_kind("bank")
    assert policy.may_file("safety_plan", "victim.support")
    assert not policy.may_file("safety_plan", "clinical")
    assert not policy.may_file("no-such-kind", "case.core")



@pytest.mark.parametrize("area", AREAS)
def test_a_members_decision_reads_whole_classes_as_the_hand_copy_says(area, policy):
    for agency in PARTNERS:
        role = next(iter(policy.set.agencies[agency]["roles"]))
        decision = policy.case_decision(Principal(1, "u", agency, role), area,
                                        Relationship.MEMBER, "active")
        for name in CLASSES:  # a part of a class (police's safety plans) is not the class
            assert decision.can_read(name) == reads(agency, area, name), (agency, name)


def test_an_unknown_role_reads_nothing_and_is_told_why(policy):
    """A role taken out of roles.yaml must not keep its agency's reads (fail closed)."""
    who = Principal(1, "u", "police", "retired-role")
    decision = policy.case_decision(who, "london", Relationship.MEMBER, "active")
    assert not decision.allowed and decision.read == {} and not decision.can_write("case.core")
    why = policy.explain(who, "london", Relationship.MEMBER, "case.core")
    assert (why.rule, str(why)) == (
        "unknown-role", "denied: police has no role 'retired-role' in roles.yaml")


def test_explanations_word_the_rule_that_decided(policy):
    def said(agency, role, name):
        return str(policy.explain(Principal(1, "u", agency, role), "london",
                                  Relationship.MEMBER, name))

    assert said("police", "officer", LOCATION) == "allowed by police-read (base.yaml)"
    assert said("nhs", "clinician", LOCATION) == \
        "denied by never-victim-location-to-perpetrator-facing (base.yaml)"
    assert policy.explain(Principal(1, "u", "nhs", "clinician"), "london",
                          Relationship.MEMBER, LOCATION).effect == "deny"
    assert said("nhs", "clinician", "intelligence") == "denied by default: no rule allows it"
    with pytest.raises(KeyError, match="unknown class 'nonsense'"):
        said("police", "officer", "nonsense")


def test_an_entry_hidden_by_its_kind_or_its_narrowing_says_so(policy):
    decision = policy.case_decision(Principal(1, "u", "police", "officer"), "london",
                                    Relationship.MEMBER, "active")
    kind = decision.explain_entry("victim.support", "contact", None, "police")
    assert (kind.effect, kind.rule, str(kind)) == ("deny", "default-deny", (
        "denied by default: police-read-safety-plan allows only entries of kinds safety_plan"))
    narrowed = decision.explain_entry("case.core", "note", ["nhs", "cps"], "police")
    assert (narrowed.rule, str(narrowed)) == (
        "author-narrowing", "denied: its author narrowed it to cps, nhs")
    shown = decision.explain_entry("victim.support", "safety_plan", ["police"], "police")
    assert (shown.allowed, shown.rule) == (True, "police-read-safety-plan")


def test_only_partner_agencies_do_casework(policy):
    assert [k for k in PARTNERS if policy.does_casework(k) is True] == PARTNERS
    assert policy.does_casework("hub") is False and policy.does_casework("bank") is False


def test_a_principal_is_made_from_a_user_as_they_are():
    london, hampshire = SimpleNamespace(code="london"), SimpleNamespace(code="hampshire")
    user = SimpleNamespace(id=7, username="jo.bloggs", role="officer", agency_id=3,
                           agency=SimpleNamespace(kind="police", area=None), area=london)
    assert Principal.of(user) == Principal(7, "jo.bloggs", "police", "officer", "london", 3)
    user.agency.area = hampshire  # an agency of one area: its staff work there only
    assert Principal.of(user).area == "hampshire"


# -- what today's files do not say, but the rule language can ---------------------------
EXTRA_RULES = [  # added to a copy of the base policy
    {"id": "test-analysts-read-legal", "effect": "allow", "agencies": ["police"],
     "roles": ["analyst"], "actions": ["read"], "relationship": ["member"],
     "classes": ["legal"]},
    {"id": "test-no-intelligence-for-analysts", "effect": "deny", "agencies": ["police"],
     "roles": ["analyst"], "actions": ["read"], "classes": ["intelligence"]},
    {"id": "test-cps-reads-supervision-once-closed", "effect": "allow", "agencies": ["cps"],
     "actions": ["read"], "relationship": ["member"], "classes": ["supervision"],
     "statuses": ["closed"]},
    {"id": "test-nhs-reads-two-kinds", "effect": "allow", "agencies": ["nhs"],
     "actions": ["read"], "relationship": ["member"], "classes": ["victim.support"],
     "kinds": ["safety_plan", "meeting"]},
    {"id": "test-police-read-meetings", "effect": "allow", "agencies": ["police"],
     "actions": ["read"], "relationship": ["member"], "classes": ["victim.support"],
     "kinds": ["meeting"]},
    {"id": "test-probation-reads-safety-plans-once-closed", "effect": "allow",
     "agencies": ["probation"], "actions": ["read"], "relationship": ["member"],
     "classes": ["victim.support"], "kinds": ["safety_plan"], "statuses": ["closed"]},
    {"id": "test-analysts-read-clinical-assessments", "effect": "allow",
     "agencies": ["police"], "roles": ["analyst"], "actions": ["read"],
     "relationship": ["member"], "classes": ["clinical"], "kinds": ["risk_assessment"]},
    {"id": "test-cps-members-read-support", "effect": "allow", "agencies": ["cps"],
     "actions": ["read"], "relationship": ["member"], "classes": ["victim.support"]},
    {"id": "test-cps-break-glass-reads-safety-plans", "effect": "allow", "agencies": ["cps"],
     "actions": ["read"], "relationship": ["break_glass"], "classes": ["victim.support"],
     "kinds": ["safety_plan"]},
]


@pytest.fixture
def extended(tmp_path):
    """The policy with rules that name a role, a status and two kinds of entry."""
    copy = tmp_path / "policies"
    shutil.copytree(ROOT / "policies", copy)
    base = yaml.safe_load((copy / "base.yaml").read_text())
    base["rules"] += EXTRA_RULES
    (copy / "base.yaml").write_text(yaml.safe_dump(base, sort_keys=False))
    return load_policy(copy)


def _cells(policy, agency: str, role: str) -> dict[str, str]:
    return {r["class"]: r["read"] for r in policy.matrix()
            if (r["area"], r["agency"], r["role"]) == ("london", agency, role)}


def test_a_rule_for_one_role_reaches_that_role_only(extended):
    analyst, officer = _cells(extended, "police", "analyst"), _cells(extended, "police", "officer")
    assert (analyst["legal"], officer["legal"]) == ("R", "-")
    assert (analyst["intelligence"], officer["intelligence"]) == ("-", "R")
    assert "police" in extended.readers("london", "legal")  # through its analysts
    assert extended.forbidden("london", "intelligence") == {"police"}


def test_a_grant_in_some_statuses_is_marked_and_is_not_whole(extended):
    cell = _cells(extended, "cps", "prosecutor")["supervision"]
    assert cell == "R (not when referred, screening, accepted, active)"
    assert "cps" in extended.readers("london", "supervision")
    assert not extended.sees_whole("cps", "prosecutor", "london", "supervision")


def test_a_grant_of_two_kinds_names_both(extended):
    assert _cells(extended, "nhs", "clinician")["victim.support"] == \
        "R (meeting, safety_plan only)"
    decision = extended.case_decision(Principal(1, "u", "nhs", "clinician"), "london",
                                      Relationship.MEMBER, "active")
    hidden = decision.explain_entry("victim.support", "note", None, "nhs")
    assert str(hidden) == ("denied by default: test-nhs-reads-two-kinds allows only "
                           "entries of kinds meeting, safety_plan")
    # Read by kind, an entry is exposed beyond who reads the whole of a guarded class.
    assert extended.exposed("london", "victim.support", "safety_plan", "clinical") == {
        "advocacy", "cps", "police", "probation"}


def test_grants_by_kind_add_up_and_stay_by_kind_in_every_status(extended):
    police = _cells(extended, "police", "officer")["victim.support"]
    assert police == "R (meeting, safety_plan only)"  # two rules, one kind each
    closed = extended.case_decision(Principal(1, "u", "probation", "probation_officer"),
                                    "london", Relationship.MEMBER, "closed")
    assert closed.read["victim.support"].kinds == {"safety_plan"}
    assert not closed.can_read("victim.support")


def test_refusals_are_denials_with_their_reasons(policy):
    who = Principal(1, "u", "police", "officer")
    nowhere = policy.case_decision(who, "atlantis", Relationship.MEMBER, "active")
    assert nowhere.allowed is False and nowhere.why == "area 'atlantis' has no policy"
    why = nowhere.explain("case.core")
    assert (why.effect, why.rule, str(why)) == ("deny", "unknown-area",
                                                "area 'atlantis' has no policy")
    stranger = policy.case_decision(who, "london", None, "active")
    assert (stranger.explain("case.core").effect, stranger.explain("case.core").rule) == (
        "deny", "no-relationship")
    retired = policy.case_decision(Principal(1, "u", "police", "gone"), "london",
                                   Relationship.MEMBER, "active")
    assert retired.allowed is False and retired.explain("orders").effect == "deny"
    narrowed = policy.case_decision(who, "london", Relationship.MEMBER, "active") \
        .explain_entry("case.core", "note", [], "police")
    assert (narrowed.effect, str(narrowed)) == ("deny", "denied: its author narrowed it to "
                                                        "nobody")


def test_a_class_the_policy_does_not_know_is_about_nobody(policy):
    assert policy.about("nonsense") == frozenset()
    assert policy.about("victim.location") == {"victim"}


def test_permission_answers_name_the_role_that_has_it_or_lacks_it(policy):
    granted = policy.explain_permission(Principal(1, "u", "hub", "dpo"), Permission.POLICY_READ)
    assert (granted.effect, granted.rule, granted.source, str(granted)) == (
        "allow", "hub/dpo", "roles.yaml", "allowed by hub/dpo (roles.yaml): the role has "
        "policy:read")
    lacking = policy.explain_permission(Principal(1, "u", "police", "officer"),
                                        Permission.POLICY_READ)
    assert (lacking.effect, lacking.rule, str(lacking)) == (
        "deny", "default-deny", "denied by default: role police/officer lacks policy:read")
    unknown = policy.explain_permission(Principal(1, "u", "police", "gone"),
                                        Permission.CASE_LIST)
    assert (unknown.effect, str(unknown)) == (
        "deny", "denied by default: role police/gone lacks case:list")
    nobody = policy.explain_permission(None, Permission.CASE_LIST)
    assert (nobody.effect, nobody.rule, str(nobody)) == (
        "deny", "default-deny", "denied: nobody is signed in")
    with pytest.raises(TypeError, match="unknown permission 'case:list'"):
        policy.explain_permission(Principal(1, "u", "police", "officer"), "case:list")


@pytest.mark.parametrize("area", AREAS)
def test_a_decision_withholds_what_is_not_wholly_readable_and_says_why(policy, area):
    for agency in PARTNERS:
        role = next(iter(policy.set.agencies[agency]["roles"]))
        decision = policy.case_decision(Principal(1, "u", agency, role), area,
                                        Relationship.MEMBER, "active")
        assert decision.allowed is True and decision.digest == policy.digest
        assert decision.withheld == tuple(c for c in CLASSES if not reads(agency, area, c))
        rules = sorted({g.rule for g in decision.read.values()})
        assert decision.why == f"member; allowed by {', '.join(rules)}"
    police = policy.case_decision(Principal(1, "u", "police", "officer"), area,
                                  Relationship.MEMBER, "active")
    assert police.why == "member; allowed by police-read, police-read-safety-plan"


def test_the_hubs_own_staff_open_no_case(policy):
    """A DPO or an administrator on a case team would still read nothing of it: the case
    does not open for them (it is their work to audit access, not to read cases)."""
    for role in ("dpo", "admin"):
        decision = policy.case_decision(Principal(1, "u", "hub", role), "london",
                                        Relationship.MEMBER, "active")
        assert (decision.allowed, decision.relationship, decision.digest) == (
            False, Relationship.MEMBER, policy.digest)
        assert decision.why == f"no rule lets hub {role} read any class as member"
        why = decision.explain("case.core")
        assert (why.effect, why.rule) == ("deny", "default-deny")


def test_refused_decisions_carry_the_policy_digest_and_footing(policy):
    nowhere = policy.case_decision(Principal(1, "u", "police", "officer"), "atlantis",
                                   Relationship.BREAK_GLASS, "active")
    retired = policy.case_decision(Principal(1, "u", "police", "gone"), "london",
                                   Relationship.MEMBER, "active")
    for refused, footing in ((nowhere, Relationship.BREAK_GLASS),
                             (retired, Relationship.MEMBER)):
        assert (refused.allowed, refused.relationship, refused.digest) == (
            False, footing, policy.digest)
    assert retired.why == "police has no role 'gone' in roles.yaml"


def test_a_grant_of_some_kinds_is_explained_with_them(policy, extended):
    police = Principal(1, "u", "police", "officer")
    assert str(policy.explain(police, "london", Relationship.MEMBER, "victim.support")) == (
        "allowed by police-read-safety-plan (base.yaml) for entries of kinds safety_plan only")
    nhs = Principal(1, "u", "nhs", "clinician")
    assert str(extended.explain(nhs, "london", Relationship.MEMBER, "victim.support")) == (
        "allowed by test-nhs-reads-two-kinds (base.yaml) for entries of kinds meeting, "
        "safety_plan only")


def test_an_agency_kind_the_policy_does_not_know_has_no_roles(policy):
    assert policy.roles("bank") == {}
    assert not policy.has_permission(Principal(1, "u", "bank", "teller"), Permission.CASE_LIST)
    assert not policy.is_known_role("bank", "teller")


def test_a_grant_limited_to_kinds_stays_limited_for_its_role_and_footing(extended):
    """Kinds come from the rules that apply to the role and footing asking, never from
    another role's or footing's: that would turn a part of a class into all of it."""
    assert _cells(extended, "police", "analyst")["clinical"] == "R (risk_assessment only)"
    cps = Principal(1, "u", "cps", "prosecutor")
    glass = extended.case_decision(cps, "london", Relationship.BREAK_GLASS, "active")
    member = extended.case_decision(cps, "london", Relationship.MEMBER, "active")
    assert glass.read["victim.support"].kinds == {"safety_plan"}
    assert member.read["victim.support"].kinds is None
