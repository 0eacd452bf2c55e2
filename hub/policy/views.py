"""The policy page for DPOs and administrators: the effective matrix and the rules behind it.

It also runs the start-up check that records a `policy:change` audit event (see
hub.policy.changes) before the process serves its first request of any kind.
"""

from __future__ import annotations

from flask import Blueprint, render_template
from flask_login import login_required

from hub import access
from hub.auditlog import writer as audit
from hub.policy import Permission, current_policy
from hub.policy.changes import check_once

bp = Blueprint("policy", __name__, url_prefix="/policy")
bp.before_app_request(check_once)


@bp.get("/")
@login_required
def matrix():
    access.require(Permission.POLICY_READ)
    policy = current_policy()
    audit.record_now("policy:read", details={"digest": policy.digest})
    areas = _areas(policy)
    return render_template("policy/matrix.html", digest=policy.digest, areas=areas,
                           columns=_columns(policy, areas), rules=_rules(policy),
                           classes=policy.set.classes)


def _columns(policy, areas: list[dict]) -> list[tuple[str, list[str]]]:
    """A column per kind of agency that does casework and, within it, per group of roles
    whose cells are the same everywhere (so four police roles that see alike take one
    column, not four). The hub's own staff see no case content, so have no column."""
    columns = []
    for kind in policy.casework_kinds():
        groups: dict[tuple, list[str]] = {}
        for role in policy.roles(kind):
            alike = tuple((c["read"], c["write_cell"], c["break_glass_read"])
                          for area in areas for name in policy.set.classes
                          for c in [area["cells"][(name, kind, role)]])
            groups.setdefault(alike, []).append(role)
        columns.extend((kind, roles) for roles in groups.values())
    return columns


def _areas(policy) -> list[dict]:
    """Per area, a grid: class -> (agency, role) -> the cell's read, write, break-glass."""
    grid: dict[str, dict] = {}
    for row in policy.matrix():
        area = grid.setdefault(row["area"], {"code": row["area"], "cells": {}})
        area["name"] = policy.set.area_names.get(row["area"], row["area"])
        area["cells"][(row["class"], row["agency"], row["role"])] = row
    return [grid[code] for code in sorted(grid)]


def _rules(policy) -> list[dict]:
    rules = [*policy.set.base_rules, *(r for code in sorted(policy.set.area_rules)
                                       for r in policy.set.area_rules[code])]
    return [{"id": r.id, "effect": r.effect, "source": r.source,
             "who": ", ".join(sorted(r.agencies)) + (
                 f" ({', '.join(sorted(r.roles))})" if r.roles else ""),
             "actions": ", ".join(sorted(r.actions)), "classes": ", ".join(sorted(r.classes)),
             "conditions": _conditions(r), "description": r.description} for r in rules]


def _conditions(rule) -> str:
    parts = []
    if rule.relationship:
        parts.append("as " + " or ".join(sorted(r.value.replace("_", "-")
                                               for r in rule.relationship)))
    if rule.kinds:
        parts.append("entries of kinds " + ", ".join(sorted(rule.kinds)))
    if rule.statuses:
        parts.append("case status " + ", ".join(sorted(rule.statuses)))
    return "; ".join(parts) or "always"
