"""The case record's fixed words, defined once: the models' check constraints, the input
schemas and the policy loader all take them from here. (Migrations keep the lists they
were written with: a migration is a record of a past schema, never re-read.)"""

CASE_STATUSES = ("referred", "screening", "accepted", "active", "closed")
RISK_LEVELS = ("standard", "medium", "high")
ENTRY_KINDS = (
    "note", "risk_assessment", "order", "breach", "intervention", "safety_plan",
    "meeting", "action", "intelligence", "legal_advice", "charging_decision",
    "court_outcome", "supervision", "offending_history",
)
#: the parts a person plays in a case (hub.cases.models.CaseParty)
PARTIES = ("perpetrator", "victim")
