"""`hub policy explain`: for each class, read and write, the effect and the deciding rule,
as an operator asks about one agency and role."""

from __future__ import annotations

from tests.policy.test_loader import _hub


def _table(*args: str) -> dict[tuple[str, str], tuple[str, str]]:
    result = _hub("explain", *args)
    assert result.returncode == 0, result.stderr
    rows = [line.split(None, 4) for line in result.stdout.splitlines()]
    return {(klass, action): (effect, rule) for klass, action, effect, rule, _why in rows}


def test_a_clinician_is_told_why_the_victims_location_is_never_theirs():
    table = _table("--agency", "nhs", "--role", "clinician")
    assert table["victim.location", "read"] == (
        "deny", "never-victim-location-to-perpetrator-facing")
    assert table["clinical", "write"] == ("allow", "nhs-write")
    assert table["intelligence", "read"] == ("deny", "default-deny")
    assert len(table) == 2 * 13  # every class, both actions


def test_without_a_relationship_nothing_is_allowed():
    table = _hub("explain", "--agency", "police", "--role", "officer",
                 "--relationship", "none")
    assert table.returncode == 0, table.stderr
    effects = {line.split()[2] for line in table.stdout.splitlines()}
    assert effects == {"deny"}


def test_a_closed_case_is_read_only_but_can_be_reopened():
    open_case = _table("--agency", "police", "--role", "officer")
    closed = _table("--agency", "police", "--role", "officer", "--status", "closed")
    assert open_case["orders", "write"] == ("allow", "police-write")
    assert closed["orders", "write"] == ("deny", "closed-cases-read-only")
    assert closed["case.core", "write"] == ("allow", "police-write")  # to reopen it


def test_an_unknown_role_is_refused_clearly():
    result = _hub("explain", "--agency", "nosuch", "--role", "officer")
    assert result.returncode == 1
    assert "no role 'officer' in agency 'nosuch'" in result.stderr
    assert result.stdout == ""
