"""The DPO's writes that are not alerts or erasure: exemptions from a subject access bundle."""

from __future__ import annotations

from hub.auditlog import writer as audit
from hub.cases.models import Person
from hub.dpo.models import Exemption
from hub.errors import Conflict, Invalid
from hub.extensions import db
from hub.policy import current_policy


def apply_exemption(person: Person, user, info_class: str, reason: str) -> Exemption:
    """Withhold a class from the person's bundle, with the reason recorded and audited."""
    if info_class not in current_policy().classes:
        raise Invalid(f"unknown class {info_class!r}", "class")
    existing = {x.info_class for x in db.session.query(Exemption).filter_by(person_id=person.id)}
    if info_class in existing:
        raise Conflict("that class is already exempted for this person", "class")
    exemption = Exemption(person_id=person.id, info_class=info_class, reason=reason.strip(),
                          applied_by_id=user.id)
    db.session.add(exemption)
    db.session.flush()
    audit.record("subject-access:exemption", subject_ids=[person.id], purpose="subject-access",
                 details={"exemption_id": exemption.id, "class": info_class}, user=user)
    audit.commit()
    return exemption
