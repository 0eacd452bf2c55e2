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

# -- casework (DOMAIN.md, "Casework") ------------------------------------------------------
#: who referred a case: the National Stalking Helpline, a partner agency, the victim herself
REFERRAL_SOURCES = ("helpline", "police", "advocacy", "nhs", "probation", "self", "other")
#: the victim's relationship to the perpetrator
RELATIONSHIPS = ("ex_intimate_partner", "acquaintance", "stranger", "online_only", "family",
                 "colleague", "neighbour", "other")
#: what the perpetrator has done; "other" takes a few words more
BEHAVIOURS = ("calls", "messages", "following", "loitering", "contacting_work", "threats",
              "online", "unwanted_gifts", "damage", "other")
#: what screening decides about a referral
REFERRAL_DECISIONS = ("accept", "decline", "signpost")

#: the plain words pages use for the codes above
LABELS = {
    "helpline": "National Stalking Helpline", "police": "Police", "advocacy": "Advocacy service",
    "nhs": "NHS", "probation": "Probation", "self": "Self-referral", "other": "Other",
    "ex_intimate_partner": "Ex-intimate partner", "acquaintance": "Acquaintance",
    "stranger": "Stranger", "online_only": "Known online only", "family": "Family member",
    "colleague": "Colleague or former colleague", "neighbour": "Neighbour",
    "calls": "Phone calls", "messages": "Messages", "following": "Following",
    "loitering": "Loitering near home or work", "contacting_work": "Contacting her work",
    "threats": "Threats", "online": "Online (social media, tracking, accounts)",
    "unwanted_gifts": "Unwanted gifts", "damage": "Damage to property",
    "accept": "Accepted", "decline": "Declined", "signpost": "Signposted elsewhere",
    "standard": "Standard", "medium": "Medium", "high": "High",
}
