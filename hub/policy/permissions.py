"""Permission names, `resource:action`, alphabetised. Unknown names raise."""

from enum import StrEnum

# The case record's words, for the loader to validate rule conditions by (no models here).
from hub.vocabulary import CASE_STATUSES, ENTRY_KINDS, PARTIES  # noqa: F401 -- re-exported


class Permission(StrEnum):
    ADMIN_MANAGE = "admin:manage"
    ALERT_REVIEW = "alert:review"
    AUDIT_READ = "audit:read"
    CASE_BREAK_GLASS = "case:break-glass"
    CASE_CREATE = "case:create"
    CASE_LIST = "case:list"
    CASE_MEMBER_ADD = "case:member:add"
    ENTRY_CREATE = "entry:create"
    POLICY_READ = "policy:read"
    REFERRAL_SCREEN = "referral:screen"
    RETENTION_ERASE = "retention:erase"
    SUBJECT_ACCESS_READ = "subject-access:read"


# Permissions that only make sense for someone on case teams: a kind of agency whose staff
# do no casework (`casework: false` in roles.yaml) may hold none of them.
CASEWORK = frozenset({Permission.CASE_BREAK_GLASS, Permission.CASE_CREATE, Permission.CASE_LIST,
                      Permission.CASE_MEMBER_ADD, Permission.ENTRY_CREATE,
                      Permission.REFERRAL_SCREEN})


class ClassAction(StrEnum):
    """What a class rule grants or denies."""

    READ = "read"
    WRITE = "write"


class Relationship(StrEnum):
    """Why a user may be looking at a case at all (DOMAIN rule 2 and 4)."""

    MEMBER = "member"
    BREAK_GLASS = "break_glass"

    @property
    def purpose(self) -> str:
        """The audit event's purpose for an access on this footing: the word DPOs search
        by (``member``, ``break-glass``), the same one the break-glass grant records."""
        return self.value.replace("_", "-")

