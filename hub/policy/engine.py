"""The policy engine: one place that answers every access question.

Pure functions over the loaded policy: no database, no Flask. The same compiled rules
answer "may this principal do this?" (``has_permission``, ``case_decision``), "which
classes may they see?" (``CaseDecision.read``) and "why?" (``explain``). ``hub.policy.plan``
turns the same answers into SQL filters for lists and searches.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache

from hub.policy.loader import PolicySet, Rule
from hub.policy.permissions import ClassAction, Permission, Relationship


@dataclass(frozen=True)
class Principal:
    """Who is asking: the facts about a signed-in user that the policy looks at."""

    user_id: int
    username: str
    agency: str
    role: str
    area: str | None = None

    @classmethod
    def of(cls, user) -> Principal:
        return cls(user.id, user.username, user.agency.code, user.role,
                   user.area.code if user.area else None)


@dataclass(frozen=True)
class ClassGrant:
    """Read access to one class; ``kinds`` limits it to entries of those kinds."""

    rule: str
    kinds: frozenset[str] | None = None


@dataclass(frozen=True)
class CaseDecision:
    """What one principal may see and do on one case."""

    allowed: bool
    relationship: Relationship | None
    read: dict[str, ClassGrant] = field(default_factory=dict)
    write: frozenset[str] = frozenset()
    withheld: tuple[str, ...] = ()
    why: str = "deny by default: no relationship with the case"
    digest: str = ""

    def can_read(self, info_class: str) -> bool:
        grant = self.read.get(info_class)
        return grant is not None and grant.kinds is None

    def can_read_entry(self, info_class: str, kind: str, restricted_to, agency: str) -> bool:
        """DOMAIN rule 5: an author's narrowing can only take away, never add."""
        grant = self.read.get(info_class)
        if grant is None or (grant.kinds is not None and kind not in grant.kinds):
            return False
        return restricted_to is None or agency in restricted_to

    def can_write(self, info_class: str) -> bool:
        return info_class in self.write

    @property
    def classes(self) -> list[str]:
        """Classes disclosed (wholly or in part), for the audit record."""
        return sorted(self.read)


DENIED = CaseDecision(allowed=False, relationship=None)


class Policy:
    def __init__(self, policy_set: PolicySet):
        self.set = policy_set
        self.digest = policy_set.digest
        self.classes = tuple(policy_set.classes)
        self._grants = cache(self._compute_grants)

    # -- permissions that are not about classes ------------------------------------------
    def roles(self, agency: str) -> dict[str, frozenset[Permission]]:
        return self.set.agencies.get(agency, {}).get("roles", {})

    def is_known_role(self, agency: str, role: str) -> bool:
        return role in self.roles(agency)

    def has_permission(self, principal: Principal | None, permission: Permission) -> bool:
        if principal is None:
            return False
        if not isinstance(permission, Permission):
            raise TypeError(f"unknown permission {permission!r}")
        return permission in self.roles(principal.agency).get(principal.role, frozenset())

    # -- classes ---------------------------------------------------------------------------
    def class_grants(self, agency: str, role: str, area: str, relationship: Relationship,
                     action: ClassAction = ClassAction.READ) -> dict[str, ClassGrant]:
        return self._grants(agency, role, area, relationship, action)

    def _compute_grants(self, agency, role, area, relationship, action) -> dict[str, ClassGrant]:
        grants: dict[str, ClassGrant] = {}
        for rule in self._allows(agency, role, action, relationship):
            for name in rule.classes:
                grants[name] = _merge(grants.get(name), rule)
        for rule in self._denies(agency, role, action, area):
            for name in rule.classes:
                grants.pop(name, None)
        return grants

    def _allows(self, agency, role, action, relationship) -> Iterable[Rule]:
        return (r for r in self.set.base_rules if r.effect == "allow"
                and r.matches(agency, role, action) and relationship in r.relationship)

    def _denies(self, agency, role, action, area) -> Iterable[Rule]:
        rules = [*self.set.base_rules, *self.set.area_rules.get(area, ())]
        return (r for r in rules if r.effect == "deny" and r.matches(agency, role, action))

    def case_decision(self, principal: Principal, area: str,
                      relationship: Relationship | None) -> CaseDecision:
        """Everything ``principal`` may see and do on a case in ``area``."""
        if relationship is None:
            return DENIED
        if area not in self.set.area_rules:
            return CaseDecision(False, relationship, why=f"area {area!r} has no policy",
                                digest=self.digest)
        read = self.class_grants(principal.agency, principal.role, area, relationship)
        write = frozenset(self.class_grants(principal.agency, principal.role, area,
                                            relationship, ClassAction.WRITE))
        if not read:
            return CaseDecision(False, relationship, why=f"no rule lets {principal.agency} "
                                f"{principal.role} read any class as {relationship.value}",
                                digest=self.digest)
        withheld = tuple(c for c in self.classes if not (c in read and read[c].kinds is None))
        rules = sorted({g.rule for g in read.values()})
        return CaseDecision(True, relationship, read, write, withheld,
                            why=f"{relationship.value}; allowed by {', '.join(rules)}",
                            digest=self.digest)

    def explain(self, principal: Principal, area: str, relationship: Relationship | None,
                info_class: str, action: ClassAction = ClassAction.READ) -> str:
        """The rule that decided, or the absence of one."""
        if info_class not in self.set.classes:
            raise KeyError(f"unknown class {info_class!r}")
        if relationship is None:
            return DENIED.why
        for rule in self._denies(principal.agency, principal.role, action, area):
            if info_class in rule.classes:
                return f"denied by {rule.id} ({rule.source})"
        for rule in self._allows(principal.agency, principal.role, action, relationship):
            if info_class in rule.classes:
                scope = f" for kinds {sorted(rule.kinds)}" if rule.kinds else ""
                return f"allowed by {rule.id} ({rule.source}){scope}"
        return "denied by default: no rule allows it"

    def areas_where_readable(self, principal: Principal, info_class: str) -> set[str]:
        """Areas in which ``principal`` may read the whole of ``info_class`` as a member."""
        return {area for area in self.set.area_rules
                if (g := self.class_grants(principal.agency, principal.role, area,
                                           Relationship.MEMBER).get(info_class))
                and g.kinds is None}

    def owners(self, info_class: str) -> list[str]:
        """Agencies that may write a class: whom to ask for what was withheld."""
        return sorted({a for r in self.set.base_rules if r.effect == "allow"
                       and ClassAction.WRITE in r.actions and info_class in r.classes
                       for a in r.agencies})

    def matrix(self) -> list[dict]:
        """Rows of the effective access matrix for every area, agency and role."""
        rows = []
        for area in sorted(self.set.area_rules):
            for agency, spec in self.set.agencies.items():
                for role in spec["roles"]:
                    read = self.class_grants(agency, role, area, Relationship.MEMBER)
                    bg = self.class_grants(agency, role, area, Relationship.BREAK_GLASS)
                    write = self.class_grants(agency, role, area, Relationship.MEMBER,
                                              ClassAction.WRITE)
                    for name in self.classes:
                        rows.append({"area": area, "agency": agency, "role": role,
                                     "class": name, "read": _cell(read.get(name)),
                                     "write": name in write,
                                     "break_glass_read": _cell(bg.get(name))})
        return rows


def _merge(existing: ClassGrant | None, rule: Rule) -> ClassGrant:
    if existing is None:
        return ClassGrant(rule.id, rule.kinds)
    if existing.kinds is None or rule.kinds is None:
        return ClassGrant(existing.rule if existing.kinds is None else rule.id, None)
    return ClassGrant(existing.rule, existing.kinds | rule.kinds)


def _cell(grant: ClassGrant | None) -> str:
    if grant is None:
        return "-"
    return "R" if grant.kinds is None else f"R ({', '.join(sorted(grant.kinds))} only)"
