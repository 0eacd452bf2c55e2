"""The access policy: loaded from `policies/`, asked by every view, API handler and command."""

from flask import current_app

from hub.policy.engine import DENIED, CaseDecision, Explanation, Policy, Principal
from hub.policy.loader import PolicyError, load
from hub.policy.permissions import ClassAction, Permission, Relationship

__all__ = ["DENIED", "CaseDecision", "ClassAction", "Explanation", "Permission", "Policy",
           "PolicyError", "Principal", "Relationship", "current_policy", "load_policy"]


def load_policy(policy_dir) -> Policy:
    return Policy(load(policy_dir))


def current_policy() -> Policy:
    return current_app.extensions["hub.policy"]
