"""Every model, imported in one place so Alembic and the relationships see them all."""

from hub.accounts.models import Agency, ApiToken, Area, LoginThrottle, User, UserSession
from hub.auditlog.models import AuditEvent, AuditSubject
from hub.cases.models import (
                              BreakGlassGrant,
                              Case,
                              CaseParty,
                              DataKey,
                              Entry,
                              EntryVersion,
                              Membership,
                              Person,
)
from hub.dpo.models import Alert, AlertEvent, Erasure, Exemption

__all__ = ["Agency", "Alert", "AlertEvent", "ApiToken", "Area", "AuditEvent", "AuditSubject",
           "BreakGlassGrant", "Case", "CaseParty", "DataKey", "Entry", "EntryVersion", "Erasure",
           "Exemption", "LoginThrottle", "Membership", "Person", "User", "UserSession"]
