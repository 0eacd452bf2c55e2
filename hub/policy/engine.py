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
from typing import NamedTuple

from hub.policy.loader import PolicySet, Rule
from hub.policy.permissions import CASE_STATUSES, ClassAction, Permission, Relationship


@dataclass(frozen=True)
class Principal:
    """Who is asking: the facts about a signed-in user that the policy looks at.

    ``agency`` is the KIND of their agency (``police``, ``nhs``... the keys of roles.yaml),
    which is what rules, roles and an author's narrowing speak of: a second police force
    is ``police`` to the policy. Which agency they belong to (a place on a case team is
    held by one agency, not by a kind) is ``agency_id``.
    """

    user_id: int
    username: str
    agency: str  #: the agency's kind
    role: str
    area: str | None = None  #: the area they work in: their agency's, if it has one
    #: their agency's row id: case teams hold agencies, not kinds. None (a principal made
    #: up by a policy test or command) is a member through named places only.
    agency_id: int | None = None

    @classmethod
    def of(cls, user) -> Principal:
        area = user.agency.area or user.area  # an agency with an area serves only it
        return cls(user.id, user.username, user.agency.kind, user.role,
                   area.code if area else None, user.agency_id)


@dataclass(frozen=True)
class ClassGrant:
    """Read access to one class; ``kinds`` limits it to entries of those kinds."""

    rule: str
    kinds: frozenset[str] | None = None


@dataclass(frozen=True)
class Explanation:
    """The rule that decided one question, or the absence of one."""

    effect: str  #: "allow" or "deny"
    rule: str  #: a rule id, or DEFAULT_DENY / NO_RELATIONSHIP / UNKNOWN_AREA
    source: str = ""  #: the policy file holding the rule ("" for the built-in defaults)
    detail: str = ""

    @property
    def allowed(self) -> bool:
        return self.effect == "allow"

    def __str__(self) -> str:
        if self.source:
            verb = "allowed" if self.allowed else "denied"
            return f"{verb} by {self.rule} ({self.source}){self.detail}"
        return self.detail


DEFAULT_DENY, NO_RELATIONSHIP, UNKNOWN_AREA = "default-deny", "no-relationship", "unknown-area"
UNKNOWN_ROLE = "unknown-role"
AUTHOR_NARROWING = "author-narrowing"
_NO_RULE = Explanation("deny", DEFAULT_DENY, detail="denied by default: no rule allows it")
_NO_RELATIONSHIP = Explanation(
    "deny", NO_RELATIONSHIP, detail="deny by default: no relationship with the case")


@dataclass(frozen=True)
class CaseDecision:
    """What one principal may see and do on one case."""

    allowed: bool
    relationship: Relationship | None
    read: dict[str, ClassGrant] = field(default_factory=dict)
    write: frozenset[str] = frozenset()  #: classes the caller may write whole
    withheld: tuple[str, ...] = ()
    why: str = _NO_RELATIONSHIP.detail
    digest: str = ""
    #: (action, class) -> the rule that decided it, for every class of the policy
    reasons: dict[tuple[ClassAction, str], Explanation] = field(default_factory=dict)
    #: classes the caller may write only entries of some kinds of, with those kinds
    write_kinds: dict[str, frozenset[str]] = field(default_factory=dict)

    def can_read(self, info_class: str) -> bool:
        grant = self.read.get(info_class)
        return grant is not None and grant.kinds is None

    def can_read_entry(self, info_class: str, kind: str, restricted_to, agency: str) -> bool:
        """DOMAIN rule 5: an author's narrowing can only take away, never add.
        ``restricted_to`` and ``agency`` (the reader's) are agency kinds, as in the policy."""
        grant = self.read.get(info_class)
        if grant is None or (grant.kinds is not None and kind not in grant.kinds):
            return False
        return restricted_to is None or agency in restricted_to

    def can_write(self, info_class: str) -> bool:
        """Whether the caller may write anything of the class (a kind-limited grant, as
        police's to the answers of a risk assessment, is not enough: see can_write_entry)."""
        return info_class in self.write

    def can_write_entry(self, info_class: str, kind: str) -> bool:
        """Whether the caller may write an entry of this kind in the class."""
        return info_class in self.write or kind in self.write_kinds.get(info_class, ())

    def explain(self, info_class: str, action: ClassAction = ClassAction.READ) -> Explanation:
        """The deciding rule for ``action`` on ``info_class`` in this decision."""
        found = self.reasons.get((ClassAction(action), info_class))
        if found is not None:
            return found
        return Explanation("deny", NO_RELATIONSHIP if self.relationship is None
                           else UNKNOWN_AREA, detail=self.why)

    def explain_entry(self, info_class: str, kind: str, restricted_to,
                      agency: str) -> Explanation:
        """Why one entry is shown or hidden: the class rule, its kinds, then narrowing."""
        verdict = self.explain(info_class)
        grant = self.read.get(info_class)
        if grant is None:
            return verdict
        if grant.kinds is not None and kind not in grant.kinds:
            return Explanation("deny", DEFAULT_DENY, detail=f"denied by default: {grant.rule} "
                               f"allows only entries of kinds {', '.join(sorted(grant.kinds))}")
        if restricted_to is not None and agency not in restricted_to:
            return Explanation("deny", AUTHOR_NARROWING, detail="denied: its author narrowed "
                               f"it to {', '.join(sorted(restricted_to)) or 'nobody'}")
        return verdict

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
        # Decisions depend only on these facts, so each is computed once per process.
        self._verdicts = cache(self._compute_verdicts)
        self._grants = cache(self._compute_grants)
        self._decisions = cache(self._compute_decision)
        self._readers = cache(self._compute_readers)
        self.forbidden = cache(self._forbidden)  # the policy never changes once loaded

    # -- permissions that are not about classes ------------------------------------------
    def roles(self, agency: str) -> dict[str, frozenset[Permission]]:
        """The roles of an agency kind; none for an unknown kind."""
        return self.set.agencies.get(agency, {}).get("roles", {})

    def is_known_kind(self, kind: str) -> bool:
        return kind in self.set.agencies

    def does_casework(self, kind: str) -> bool:
        """Whether staff of this kind of agency work cases (join teams, read content).
        The hub's own staff do not (``casework: false``); an unknown kind does not."""
        return self.set.agencies.get(kind, {}).get("casework", False)

    def casework_kinds(self) -> tuple[str, ...]:
        """Kinds whose staff work cases, in the policy's order: what narrowing may name."""
        return tuple(k for k in self.set.agencies if self.does_casework(k))

    def is_known_role(self, agency: str, role: str) -> bool:
        return role in self.roles(agency)

    def has_permission(self, principal: Principal | None, permission: Permission) -> bool:
        return self.explain_permission(principal, permission).allowed

    def explain_permission(self, principal: Principal | None,
                           permission: Permission) -> Explanation:
        """Unknown permission names raise; a missing user is denied first."""
        if principal is None:
            return Explanation("deny", DEFAULT_DENY, detail="denied: nobody is signed in")
        if not isinstance(permission, Permission):
            raise TypeError(f"unknown permission {permission!r}")
        if permission in self.roles(principal.agency).get(principal.role, frozenset()):
            return Explanation("allow", f"{principal.agency}/{principal.role}", "roles.yaml",
                               f": the role has {permission}")
        return Explanation("deny", DEFAULT_DENY, detail=f"denied by default: role "
                           f"{principal.agency}/{principal.role} lacks {permission}")

    # -- classes ---------------------------------------------------------------------------
    def verdicts(self, agency: str, role: str, area: str, relationship: Relationship,
                 action: ClassAction = ClassAction.READ,
                 status: str | None = None) -> dict[str, Explanation]:
        """For every class, the rule deciding ``action``: explicit deny wins, then allow."""
        return self._verdicts(agency, role, area, relationship, ClassAction(action), status)

    def class_grants(self, agency: str, role: str, area: str, relationship: Relationship,
                     action: ClassAction = ClassAction.READ,
                     status: str | None = None) -> dict[str, ClassGrant]:
        return self._grants(agency, role, area, relationship, ClassAction(action), status)

    def _compute_grants(self, agency, role, area, relationship, action, status):
        kinds = self._kinds(agency, role, area, relationship, action, status)
        return {name: ClassGrant(v.rule, kinds.get(name))
                for name, v in self.verdicts(agency, role, area, relationship, action,
                                             status).items() if v.allowed}

    def _compute_verdicts(self, agency, role, area, relationship, action, status):
        allows, denies = {}, {}
        for rule in self._rules(agency, role, action, area, status):
            target = denies if rule.effect == "deny" else allows
            if rule.effect == "allow" and relationship not in rule.relationship:
                continue
            for name in rule.classes:
                target.setdefault(name, []).append(rule)
        return {name: _verdict(denies.get(name), allows.get(name)) for name in self.classes}

    def _kinds(self, agency, role, area, relationship, action, status) -> dict:
        """Classes granted only for some entry kinds: the union over the allowing rules."""
        kinds: dict[str, frozenset[str] | None] = {}
        for rule in self._rules(agency, role, action, area, status):
            if rule.effect == "allow" and relationship in rule.relationship:
                for name in rule.classes:
                    before = kinds.get(name, frozenset())
                    kinds[name] = None if before is None or rule.kinds is None \
                        else before | rule.kinds
        return kinds

    def _rules(self, agency, role, action, area, status) -> Iterable[Rule]:
        rules = (*self.set.base_rules, *self.set.area_rules.get(area, ()))
        return [r for r in rules if r.matches(agency, role, action) and r.holds(status)]

    def case_decision(self, principal: Principal, area: str, relationship: Relationship | None,
                      status: str | None = None) -> CaseDecision:
        """Everything ``principal`` may see and do on a case in ``area`` with ``status``.

        An unknown ``status`` fails closed: every status-conditioned deny applies.
        """
        if relationship is None:
            return DENIED
        return self._decisions(principal.agency, principal.role, area, relationship, status)

    def _compute_decision(self, agency, role, area, relationship, status) -> CaseDecision:
        if area not in self.set.area_rules:
            return CaseDecision(False, relationship, why=f"area {area!r} has no policy",
                                digest=self.digest)
        if not self.is_known_role(agency, role):  # e.g. a role since taken out of roles.yaml
            why = f"{agency} has no role {role!r} in roles.yaml"
            return CaseDecision(False, relationship, why=why, digest=self.digest, reasons={
                (action, name): Explanation("deny", UNKNOWN_ROLE, detail=f"denied: {why}")
                for action in ClassAction for name in self.classes})
        facts = (agency, role, area, relationship)
        reasons = {(action, name): v for action in ClassAction
                   for name, v in self.verdicts(*facts, action, status).items()}
        read = self.class_grants(*facts, ClassAction.READ, status)
        writes = self.class_grants(*facts, ClassAction.WRITE, status)
        write = frozenset(c for c, g in writes.items() if g.kinds is None)
        write_kinds = {c: g.kinds for c, g in writes.items() if g.kinds is not None}
        if not read:
            return CaseDecision(False, relationship, why=f"no rule lets {agency} "
                                f"{role} read any class as {relationship.value}",
                                digest=self.digest, reasons=reasons)
        withheld = tuple(c for c in self.classes if not (c in read and read[c].kinds is None))
        rules = sorted({g.rule for g in read.values()})
        return CaseDecision(True, relationship, read, write, withheld,
                            why=f"{relationship.value}; allowed by {', '.join(rules)}",
                            digest=self.digest, reasons=reasons, write_kinds=write_kinds)

    def explain(self, principal: Principal, area: str, relationship: Relationship | None,
                info_class: str, action: ClassAction = ClassAction.READ,
                status: str | None = None) -> Explanation:
        """The rule that decided, or the absence of one: the same answer as the decision."""
        if info_class not in self.set.classes:
            raise KeyError(f"unknown class {info_class!r}")
        return self.case_decision(principal, area, relationship, status).explain(
            info_class, action)

    # -- entries: what they may be, whom they concern, who will read them -----------------
    def kind_classes(self, kind: str) -> frozenset[str]:
        """The classes an entry of ``kind`` may be filed as (kinds.yaml); unknown kinds raise."""
        return self.set.kinds[kind]

    def may_file(self, kind: str, info_class: str) -> bool:
        return info_class in self.set.kinds.get(kind, frozenset())

    def about(self, info_class: str) -> frozenset[str]:
        """The parties (perpetrator, victim) an entry of ``info_class`` concerns by default."""
        return self.set.about.get(info_class, frozenset())

    def readers(self, area: str, info_class: str, kind: str | None = None) -> frozenset[str]:
        """Agencies that could read an entry of ``info_class`` and ``kind`` on a case in
        ``area``, on any footing and in any status: everyone its author is writing for.
        ``kind`` None asks about a field of the case, which needs the whole class."""
        return frozenset(s.agency for s in self._readers(area, info_class, kind))

    def exposed(self, area: str, info_class: str, kind: str | None,
                guarded: str) -> frozenset[str]:
        """Agencies with a role that, on some footing and in some status, could read such an
        entry but not the whole of ``guarded``: free text there must not hold what
        ``guarded`` protects."""
        seeing = self._readers(area, guarded, None)
        return frozenset(s.agency for s in self._readers(area, info_class, kind) - seeing)

    def _forbidden(self, area: str, info_class: str) -> frozenset[str]:
        """Agencies that an explicit deny rule (not the default) keeps from reading
        ``info_class`` in ``area``: for victim.location, DOMAIN rule 3's perpetrator-facing
        workers."""
        return frozenset(
            s.agency for s in _situations(self.set)
            if (v := self.verdicts(s.agency, s.role, area, s.relationship, ClassAction.READ,
                                   s.status).get(info_class)) is not None
            and not v.allowed and v.source)

    def sees_whole(self, agency: str, role: str, area: str, info_class: str) -> bool:
        """Whether a team member of this agency and role reads all of ``info_class`` in
        ``area``, whatever the case's status."""
        seeing = self._readers(area, info_class, None)
        return all(Situation(agency, role, Relationship.MEMBER, s) in seeing
                   for s in CASE_STATUSES)

    def _compute_readers(self, area, info_class, kind) -> frozenset[Situation]:
        """The situations in which an entry of ``info_class`` and ``kind`` may be read."""
        if area not in self.set.area_rules:
            return frozenset()
        return frozenset(
            s for s in _situations(self.set)
            if (g := self.class_grants(s.agency, s.role, area, s.relationship,
                                       ClassAction.READ, s.status).get(info_class))
            is not None and (g.kinds is None or kind in g.kinds))

    def owners(self, info_class: str) -> list[str]:
        """Agencies that may write a whole class: whom to ask for what was withheld (not
        those that write only some kinds of it, as police the answers of a risk
        assessment, which they cannot read back)."""
        return sorted({a for r in self.set.base_rules if r.effect == "allow"
                       and ClassAction.WRITE in r.actions and info_class in r.classes
                       and r.kinds is None for a in r.agencies})

    def matrix(self) -> list[dict]:
        """Rows of the effective access matrix for every area, agency and role.

        Cells are "-", "R", "W", "R (safety_plan only)" and "... (not when closed)" where a
        status condition takes the access away for some case statuses.
        """
        rows = []
        for area in sorted(self.set.area_rules):
            for agency, spec in self.set.agencies.items():
                for role in spec["roles"]:
                    rows.extend(self._matrix_rows(area, agency, role))
        return rows

    def _matrix_rows(self, area: str, agency: str, role: str) -> list[dict]:
        def cells(relationship, action, letter):
            by_status = {s: self.class_grants(agency, role, area, relationship, action, s)
                         for s in CASE_STATUSES}
            return {name: _cell(letter, {s: g.get(name) for s, g in by_status.items()})
                    for name in self.classes}

        read = cells(Relationship.MEMBER, ClassAction.READ, "R")
        write = cells(Relationship.MEMBER, ClassAction.WRITE, "W")
        bg = cells(Relationship.BREAK_GLASS, ClassAction.READ, "R")
        return [{"area": area, "agency": agency, "role": role, "class": name,
                 "read": read[name], "write": write[name] != "-", "write_cell": write[name],
                 "break_glass_read": bg[name]} for name in self.classes]


class Situation(NamedTuple):
    """One agency and role, on one footing, with a case of one status."""

    agency: str
    role: str
    relationship: Relationship
    status: str


def _situations(policy_set: PolicySet) -> list[Situation]:
    return [Situation(agency, role, rel, status)
            for agency, spec in policy_set.agencies.items() for role in spec["roles"]
            for rel in Relationship for status in CASE_STATUSES]


def _verdict(denies: list[Rule] | None, allows: list[Rule] | None) -> Explanation:
    """Explicit deny wins; then the first allow that grants the whole class; else default."""
    if denies:
        return Explanation("deny", denies[0].id, denies[0].source)
    if not allows:
        return _NO_RULE
    whole = next((r for r in allows if r.kinds is None), None)
    if whole is not None:
        return Explanation("allow", whole.id, whole.source)
    kinds = sorted(set().union(*(r.kinds for r in allows)))
    return Explanation("allow", allows[0].id, allows[0].source,
                       f" for entries of kinds {', '.join(kinds)} only")


def _cell(letter: str, grants: dict[str, ClassGrant | None]) -> str:
    granted = [s for s, g in grants.items() if g is not None]
    if not granted:
        return "-"
    sample = grants[granted[0]]
    text = letter if sample.kinds is None else f"{letter} ({', '.join(sorted(sample.kinds))} only)"
    missing = [s for s in grants if s not in granted]
    return f"{text} (not when {', '.join(missing)})" if missing else text
