"""Policy test suites: `policies/tests/*.yaml`, run by `hub policy test` and by pytest.

Each test names a principal, facts about the resource (the case's area and status, the
principal's relationship to it, optionally one entry), an action and what is expected.
Whatever a test does not list as allowed is expected to be denied, so a rule that starts
granting more fails a test as surely as one that grants less. See policies/README.md.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from pathlib import Path

import yaml
from marshmallow import Schema, ValidationError, fields, validate, validates_schema

from hub.policy.engine import CaseDecision, Policy, Principal
from hub.policy.loader import PolicyError, load_rules
from hub.policy.permissions import CASE_STATUSES, ClassAction, Permission, Relationship

RELATIONSHIPS = ("member", "break_glass", "none")


class _PrincipalSchema(Schema):
    agency = fields.String(required=True)
    role = fields.String(required=True)


class _EntrySchema(Schema):
    info_class = fields.String(required=True, data_key="class")
    kind = fields.String(load_default="note")
    restricted_to = fields.List(fields.String(), load_default=None, allow_none=True)
    reader_agency = fields.String()  #: default: the principal's agency


class _ResourceSchema(Schema):
    area = fields.String(load_default="london")
    status = fields.String(load_default="active", validate=validate.OneOf(CASE_STATUSES))
    relationship = fields.String(load_default="member", validate=validate.OneOf(RELATIONSHIPS))
    entry = fields.Nested(_EntrySchema)


class _FilingSchema(Schema):
    kind = fields.String(required=True)
    classes = fields.List(fields.String(), required=True)  #: exactly these


class _AboutSchema(Schema):
    info_class = fields.String(required=True, data_key="class")
    parties = fields.List(fields.String(), required=True)  #: exactly these


_QUESTIONS = ("allow", "effect", "permissions", "filing", "about")


class _TestSchema(Schema):
    name = fields.String(required=True)
    principal = fields.Nested(_PrincipalSchema)
    resource = fields.Nested(_ResourceSchema, load_default=lambda: _ResourceSchema().load({}))
    action = fields.String(validate=validate.OneOf([a.value for a in ClassAction]))
    allow = fields.List(fields.String())  #: classes wholly allowed; every other: deny
    partial = fields.Dict(keys=fields.String(), values=fields.List(fields.String()))
    effect = fields.String(validate=validate.OneOf(["allow", "deny"]))  #: for an entry
    rule = fields.String()  #: the deciding rule expected by an entry test
    permissions = fields.List(fields.String())  #: exactly these; every other: deny
    adding = fields.List(fields.Dict())  #: extra rules (canaries) for this test only
    filing = fields.Nested(_FilingSchema)  #: the classes a kind may be filed as
    about = fields.Nested(_AboutSchema)  #: whom a class's entries concern

    @validates_schema
    def _one_question(self, data, **_kwargs):
        asks = [k for k in _QUESTIONS if k in data]
        if len(asks) != 1:
            raise ValidationError("a test expects exactly one of: allow (with action), "
                                  "effect (with resource.entry), permissions, filing, about")
        if asks[0] in ("filing", "about"):
            return
        if "principal" not in data:
            raise ValidationError("a test of access needs a principal", "principal")
        if "permissions" not in data and "action" not in data:
            raise ValidationError("a class or entry test needs an action", "action")


class _SuiteSchema(Schema):
    name = fields.String(required=True)
    tests = fields.List(fields.Nested(_TestSchema), required=True,
                        validate=validate.Length(min=1))


@dataclass(frozen=True)
class Failure:
    suite: str
    test: str
    problem: str

    def __str__(self) -> str:
        return f"{self.suite}: {self.test}: {self.problem}"


@dataclass(frozen=True)
class Report:
    tests: int
    failures: tuple[Failure, ...]

    @property
    def ok(self) -> bool:
        return not self.failures


def load_suites(suite_dir: str | Path) -> dict[str, dict]:
    """Every suite file in ``suite_dir``, validated. Raises PolicyError naming file and test."""
    suites = {}
    paths = sorted(Path(suite_dir).glob("*.yaml"))
    if not paths:
        raise PolicyError(f"{suite_dir}: no policy test suites (*.yaml)")
    for path in paths:
        try:
            raw = yaml.safe_load(path.read_text(encoding="utf-8"))
            suites[path.name] = _SuiteSchema().load(raw if isinstance(raw, dict) else {})
        except (OSError, yaml.YAMLError) as exc:
            raise PolicyError(f"tests/{path.name}: cannot be read as YAML: {exc}") from None
        except ValidationError as exc:
            raise PolicyError(f"tests/{path.name}: {_where(exc.messages, raw)}") from None
    return suites


def _where(messages, raw) -> str:
    tests = messages.get("tests") if isinstance(messages, dict) else None
    if isinstance(tests, dict):
        names = [t.get("name", f"#{i + 1}") if isinstance(t, dict) else f"#{i + 1}"
                 for i, t in enumerate(raw.get("tests", []))]
        return "; ".join(f"test {names[i] if isinstance(i, int) and i < len(names) else i}: "
                         f"{problem}" for i, problem in tests.items())
    return str(messages)


def run(policy: Policy, suites: dict[str, dict]) -> Report:
    failures, count = [], 0
    for suite_name, suite in suites.items():
        for test in suite["tests"]:
            count += 1
            failures.extend(Failure(suite_name, test["name"], p)
                            for p in _run_one(policy, test, suite_name))
    return Report(count, tuple(failures))


def _run_one(policy: Policy, test: dict, suite_name: str) -> list[str]:
    try:
        policy = _with_extra_rules(policy, test.get("adding"), f"tests/{suite_name}")
        if "filing" in test:
            return _check_filing(policy, test["filing"])
        if "about" in test:
            return _check_about(policy, test["about"])
        principal = Principal(0, "policy-test", test["principal"]["agency"],
                              test["principal"]["role"])
        if not policy.is_known_role(principal.agency, principal.role):
            return [f"unknown role {principal.agency}/{principal.role}"]
        if "permissions" in test:
            return _check_permissions(policy, principal, test["permissions"])
        resource = test["resource"]
        relationship = None if resource["relationship"] == "none" \
            else Relationship(resource["relationship"])
        decision = policy.case_decision(principal, resource["area"], relationship,
                                        resource["status"])
        if "effect" in test:
            return _check_entry(decision, principal, test)
        return _check_classes(policy, decision, test)
    except PolicyError as exc:
        return [str(exc)]


def _with_extra_rules(policy: Policy, raw_rules, source: str) -> Policy:
    if not raw_rules:
        return policy
    extra = load_rules(raw_rules, source, policy.set)
    return Policy(dataclasses.replace(policy.set, base_rules=policy.set.base_rules + extra))


def _check_permissions(policy: Policy, principal: Principal, expected: list[str]) -> list[str]:
    unknown = sorted(set(expected) - {p.value for p in Permission})
    if unknown:
        return [f"unknown permissions {unknown}"]
    actual = {p.value for p in Permission if policy.has_permission(principal, p)}
    return _compare("permissions", actual, set(expected))


def _check_filing(policy: Policy, filing: dict) -> list[str]:
    if filing["kind"] not in policy.set.kinds:
        return [f"unknown kind {filing['kind']!r}"]
    actual = policy.kind_classes(filing["kind"])
    return _compare(f"filing a {filing['kind']} as", set(actual), set(filing["classes"]))


def _check_about(policy: Policy, about: dict) -> list[str]:
    if about["info_class"] not in policy.set.classes:
        return [f"unknown class {about['info_class']!r}"]
    actual = policy.about(about["info_class"])
    return _compare(f"{about['info_class']} about", set(actual), set(about["parties"]))


def _check_classes(policy: Policy, decision: CaseDecision, test: dict) -> list[str]:
    unknown = sorted((set(test["allow"]) | set(test.get("partial", {}))) - set(policy.classes))
    if unknown:
        return [f"unknown classes {unknown}"]
    if test["action"] == ClassAction.WRITE:
        action, whole = "write", set(decision.write)
        partial = {c: sorted(k) for c, k in decision.write_kinds.items()}
    else:
        action = "read"
        whole = {c for c, g in decision.read.items() if g.kinds is None}
        partial = {c: sorted(g.kinds) for c, g in decision.read.items() if g.kinds is not None}
    problems = _compare(action, whole, set(test["allow"]))
    expected_partial = {c: sorted(k) for c, k in test.get("partial", {}).items()}
    if partial != expected_partial:
        problems.append(f"{action} of some kinds only: expected {expected_partial}, "
                        f"got {partial}")
    return problems


def _check_entry(decision: CaseDecision, principal: Principal, test: dict) -> list[str]:
    entry = test["resource"].get("entry")
    if entry is None:
        return ["an effect test needs resource.entry"]
    reader = entry.get("reader_agency", principal.agency)
    if test["action"] == ClassAction.WRITE:
        allowed = decision.can_write_entry(entry["info_class"], entry["kind"])
        why = decision.explain(entry["info_class"], ClassAction.WRITE)
    else:
        allowed = decision.can_read_entry(entry["info_class"], entry["kind"],
                                          entry["restricted_to"], reader)
        why = decision.explain_entry(entry["info_class"], entry["kind"],
                                     entry["restricted_to"], reader)
    problems = []
    if allowed != (test["effect"] == "allow"):
        problems.append(f"expected {test['effect']}, got "
                        f"{'allow' if allowed else 'deny'} ({why})")
    if why.allowed != allowed:  # the explanation must tell the same story as the decision
        problems.append(f"the explanation ({why}) disagrees with the decision")
    if "rule" in test and why.rule != test["rule"]:
        problems.append(f"expected the deciding rule {test['rule']}, got {why.rule}")
    return problems


def _compare(what: str, actual: set[str], expected: set[str]) -> list[str]:
    problems = []
    if actual - expected:
        problems.append(f"{what} allowed but expected deny: {sorted(actual - expected)}")
    if expected - actual:
        problems.append(f"{what} denied but expected allow: {sorted(expected - actual)}")
    return problems
