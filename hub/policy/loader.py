"""Load and validate `policies/`. Any problem stops start-up with file, rule and reason."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from marshmallow import Schema, ValidationError, fields, validate

from hub.policy.permissions import (
    CASE_STATUSES,
    CASEWORK,
    ENTRY_KINDS,
    PARTIES,
    ClassAction,
    Permission,
    Relationship,
)


class PolicyError(ValueError):
    """The policy files are invalid. The message names the file, the rule and the problem."""


@dataclass(frozen=True)
class Rule:
    id: str
    effect: str
    agencies: frozenset[str]
    roles: frozenset[str] | None  #: None: every role of the agencies
    actions: frozenset[ClassAction]
    classes: frozenset[str]
    relationship: frozenset[Relationship]  #: empty for deny rules: they always apply
    kinds: frozenset[str] | None  #: None: entries of every kind
    source: str  #: file the rule came from
    statuses: frozenset[str] | None = None  #: None: whatever the case's status
    description: str = ""  #: why the rule exists, shown on the matrix page

    def matches(self, agency: str, role: str, action: ClassAction) -> bool:
        return (agency in self.agencies and action in self.actions
                and (self.roles is None or role in self.roles))

    def holds(self, status: str | None) -> bool:
        """Whether the status condition holds. An unknown status fails closed: a
        conditional deny applies and a conditional allow does not."""
        if self.statuses is None:
            return True
        if status is None:
            return self.effect == "deny"
        return status in self.statuses


@dataclass(frozen=True)
class PolicySet:
    classes: dict[str, str]
    #: agency kind -> {"name", "casework": bool, "roles": {role: frozenset[Permission]}}
    agencies: dict[str, dict]
    base_rules: tuple[Rule, ...]
    area_rules: dict[str, tuple[Rule, ...]]  #: area code -> its (deny-only) rules
    area_names: dict[str, str]
    digest: str  #: SHA-256 over every policy file, recorded in each audit event
    #: entry kind -> the classes it may be filed as (kinds.yaml)
    kinds: dict[str, frozenset[str]] = field(default_factory=dict)
    #: class -> the parties (perpetrator, victim) its entries concern by default (kinds.yaml)
    about: dict[str, frozenset[str]] = field(default_factory=dict)


class _RuleSchema(Schema):
    id = fields.String(required=True, validate=validate.Regexp(r"^[a-z0-9][a-z0-9-]*$"))
    effect = fields.String(required=True, validate=validate.OneOf(["allow", "deny"]))
    agencies = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    roles = fields.List(fields.String(), validate=validate.Length(min=1))
    actions = fields.List(fields.String(validate=validate.OneOf([a.value for a in ClassAction])),
                          required=True, validate=validate.Length(min=1))
    classes = fields.List(fields.String(), required=True, validate=validate.Length(min=1))
    relationship = fields.List(
        fields.String(validate=validate.OneOf([r.value for r in Relationship])))
    kinds = fields.List(fields.String(validate=validate.OneOf(ENTRY_KINDS)),
                        validate=validate.Length(min=1))
    statuses = fields.List(fields.String(validate=validate.OneOf(CASE_STATUSES)),
                           validate=validate.Length(min=1))
    description = fields.String()


class _RulesFileSchema(Schema):
    area = fields.String()
    name = fields.String()
    rules = fields.List(fields.Nested(_RuleSchema), required=True)


class _RolesFileSchema(Schema):
    agencies = fields.Dict(
        keys=fields.String(),
        values=fields.Dict(keys=fields.String(), values=fields.Raw()),
        required=True)


class _ClassesFileSchema(Schema):
    classes = fields.Dict(keys=fields.String(), values=fields.String(), required=True)


_NAMES = fields.List(fields.String(), required=True, validate=validate.Length(min=1))


class _KindsFileSchema(Schema):
    kinds = fields.Dict(keys=fields.String(), values=_NAMES, required=True)
    about = fields.Dict(keys=fields.String(), values=_NAMES, required=True)


def _read(path: Path, schema: Schema) -> dict:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, yaml.YAMLError) as exc:
        raise PolicyError(f"{path.name}: cannot be read as YAML: {exc}") from None
    try:
        return schema.load(data if isinstance(data, dict) else {"": data})
    except ValidationError as exc:
        raise PolicyError(f"{path.name}: {_describe(exc.messages, data)}") from None


def _describe(messages, data) -> str:
    """Name the rule (by id) that failed, not just its position."""
    if isinstance(messages, dict) and "rules" in messages and isinstance(messages["rules"], dict):
        parts = []
        for index, problem in messages["rules"].items():
            rule = data["rules"][index] if isinstance(index, int) else {}
            rule_id = rule.get("id", f"#{index + 1}") if isinstance(rule, dict) else f"#{index}"
            parts.append(f"rule {rule_id}: {problem}")
        return "; ".join(parts)
    return str(messages)


def load(policy_dir: str | Path) -> PolicySet:
    root = Path(policy_dir)
    if not (root / "base.yaml").is_file():
        raise PolicyError(f"{root}: no base.yaml: the policy folder is missing or incomplete")
    classes = _read(root / "classes.yaml", _ClassesFileSchema())["classes"]
    agencies = _load_agencies(root / "roles.yaml")
    base = _load_rules(root / "base.yaml", classes, agencies, area=None)
    area_rules, area_names = {}, {}
    for path in sorted((root / "areas").glob("*.yaml")):
        data = _read(path, _RulesFileSchema())
        code = data.get("area") or path.stem
        if code != path.stem:
            raise PolicyError(f"{path.name}: area '{code}' must match the file name")
        area_rules[code] = _rules(path, data, classes, agencies, area=code)
        area_names[code] = data.get("name", code.title())
    _check_unique_ids(base, area_rules)
    kinds, about = _load_kinds(root / "kinds.yaml", classes)
    _check_rule_kinds([*base, *(r for rules in area_rules.values() for r in rules)], kinds)
    return PolicySet(classes, agencies, base, area_rules, area_names, _digest(root),
                     kinds, about)


def _load_kinds(path: Path, classes) -> tuple[dict, dict]:
    """Every known kind with the classes it may take; every class with whom it is about."""
    data = _read(path, _KindsFileSchema())
    kinds = {kind: frozenset(_known(path, f"kind '{kind}'", names, classes, "class"))
             for kind, names in data["kinds"].items() if _is_kind(path, kind)}
    missing = next((k for k in ENTRY_KINDS if k not in kinds), None)
    if missing:
        raise PolicyError(f"{path.name}: kind '{missing}' is not listed: name the classes "
                          "it may be filed as")
    about = {}
    for name, parties in data["about"].items():
        if name not in classes:
            raise PolicyError(f"{path.name}: about '{name}': unknown class")
        about[name] = frozenset(_known(path, f"about '{name}'", parties, PARTIES, "party"))
    missing = next((c for c in classes if c not in about), None)
    if missing:
        raise PolicyError(f"{path.name}: about '{missing}' is not listed: say whom entries "
                          "of this class concern")
    return kinds, about


def _is_kind(path: Path, kind: str) -> bool:
    if kind not in ENTRY_KINDS:
        raise PolicyError(f"{path.name}: kind '{kind}': unknown kind")
    return True


def _known(path: Path, where: str, names: list[str], known, what: str) -> list[str]:
    unknown = next((n for n in names if n not in known), None)
    if unknown is not None:
        raise PolicyError(f"{path.name}: {where}: unknown {what} '{unknown}'")
    return names


def _check_rule_kinds(rules, kinds: dict[str, frozenset[str]]) -> None:
    """A rule limited to kinds that its class never takes could never apply: a mistake.
    (A write limited to kinds lets the caller write entries of those kinds only: decisions
    keep it apart from a whole class's write, CaseDecision.write_kinds.)"""
    for rule in rules:
        for name in sorted(rule.classes) if rule.kinds is not None else ():
            if not any(name in kinds[k] for k in rule.kinds):
                raise PolicyError(f"{rule.source}: rule {rule.id}: no entry of kind "
                                  f"{', '.join(sorted(rule.kinds))} may be filed as {name}")


# A kind is stored on each agency row (String(32)), as agency codes are.
KIND_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")
_KIND_FIELDS = ("name", "casework", "roles")


def _load_agencies(path: Path) -> dict[str, dict]:
    """Every kind of agency: its name, whether its staff do casework, its roles."""
    raw = _read(path, _RolesFileSchema())["agencies"]
    return {kind: _load_kind(path, kind, spec) for kind, spec in raw.items()}


def _load_kind(path: Path, kind: str, spec: dict) -> dict:
    if not KIND_NAME.match(kind):
        raise PolicyError(f"{path.name}: agency {kind!r}: a kind is lower-case letters, "
                          "digits and hyphens, at most 32")
    unknown = next((k for k in spec if k not in _KIND_FIELDS), None)
    if unknown is not None:
        raise PolicyError(f"{path.name}: agency {kind}: unknown field {unknown!r}")
    casework = spec.get("casework", True)
    if not isinstance(casework, bool):
        raise PolicyError(f"{path.name}: agency {kind}: casework must be true or false")
    roles = spec.get("roles")
    if not isinstance(roles, dict) or not roles:
        raise PolicyError(f"{path.name}: agency {kind}: needs a roles mapping")
    parsed = {role: _permissions(path, kind, role, perms, casework)
              for role, perms in roles.items()}
    return {"name": spec.get("name", kind), "casework": casework, "roles": parsed}


def _permissions(path: Path, kind: str, role: str, perms, casework: bool) -> frozenset:
    try:
        parsed = frozenset(Permission(p) for p in perms or [])
    except (ValueError, TypeError) as exc:
        raise PolicyError(f"{path.name}: agency {kind} role {role}: {exc}") from None
    found = sorted(parsed & CASEWORK) if not casework else []
    if found:  # staff who never join a team could not use it, or would need a way round
        raise PolicyError(f"{path.name}: agency {kind} role {role}: {found[0]} is casework, "
                          f"which agency {kind} does not do")
    return parsed


def _load_rules(path: Path, classes, agencies, area) -> tuple[Rule, ...]:
    return _rules(path, _read(path, _RulesFileSchema()), classes, agencies, area)


def _rules(path: Path, data: dict, classes, agencies, area) -> tuple[Rule, ...]:
    return tuple(build_rule(raw, path.name, classes, agencies, area) for raw in data["rules"])


def build_rule(raw: dict, source: str, classes, agencies, area: str | None) -> Rule:
    """One validated rule; ``raw`` has passed ``_RuleSchema``. Raises naming the rule."""
    where = f"{source}: rule {raw['id']}"
    problem = _rule_problem(raw, classes, agencies, area)
    if problem:
        raise PolicyError(f"{where}: {problem}")
    return Rule(
        id=raw["id"], effect=raw["effect"], agencies=frozenset(raw["agencies"]),
        roles=frozenset(raw["roles"]) if "roles" in raw else None,
        actions=frozenset(ClassAction(a) for a in raw["actions"]),
        classes=frozenset(raw["classes"]),
        relationship=frozenset(Relationship(r) for r in raw.get("relationship", [])),
        kinds=frozenset(raw["kinds"]) if "kinds" in raw else None, source=source,
        statuses=frozenset(raw["statuses"]) if "statuses" in raw else None,
        description=raw.get("description", ""))


def _rule_problem(raw: dict, classes, agencies, area) -> str | None:
    unknown_class = next((c for c in raw["classes"] if c not in classes), None)
    if unknown_class:
        return f"unknown class '{unknown_class}'"
    unknown_agency = next((a for a in raw["agencies"] if a not in agencies), None)
    if unknown_agency:
        return f"unknown agency '{unknown_agency}'"
    no_casework = next((a for a in raw["agencies"] if not agencies[a]["casework"]), None)
    if raw["effect"] == "allow" and no_casework:  # DOMAIN rule 8: hub staff see no content
        return (f"agency {no_casework} does no casework (roles.yaml): no rule may give it "
                "case content")
    for role in raw.get("roles", []):
        if not any(role in agencies[a]["roles"] for a in raw["agencies"]):
            return f"unknown role '{role}'"
    if raw["effect"] == "allow" and not raw.get("relationship"):
        return ("an allow rule must name its relationship (member, break_glass): "
                "there is no access without one")
    if raw["effect"] == "deny" and ("kinds" in raw or raw.get("relationship")):
        return "a deny rule always applies: it takes no kinds or relationship"
    if area is not None and raw["effect"] == "allow":
        return "area policies may only narrow the base policy; allow rules would widen it"
    return None


def load_rules(raw_rules: list, source: str, policy_set: PolicySet) -> tuple[Rule, ...]:
    """Validate extra rules against a loaded policy (policy tests use it for canaries)."""
    try:
        data = _RulesFileSchema().load({"rules": raw_rules})
    except ValidationError as exc:
        raise PolicyError(f"{source}: {_describe(exc.messages, {'rules': raw_rules})}") from None
    return tuple(build_rule(raw, source, policy_set.classes, policy_set.agencies, None)
                 for raw in data["rules"])


def _check_unique_ids(base, area_rules) -> None:
    seen: dict[str, str] = {}
    for rule in [*base, *(r for rules in area_rules.values() for r in rules)]:
        if rule.id in seen:
            raise PolicyError(f"{rule.source}: rule {rule.id}: id already used in {seen[rule.id]}")
        seen[rule.id] = rule.source


def _digest(root: Path) -> str:
    h = hashlib.sha256()
    for path in sorted(root.rglob("*.yaml")):
        if "tests" in path.relative_to(root).parts:
            continue
        h.update(path.relative_to(root).as_posix().encode() + b"\0")
        h.update(path.read_bytes() + b"\0")
    return h.hexdigest()
