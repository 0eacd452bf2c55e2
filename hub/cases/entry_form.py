"""The note page's choices and words, from the policy: which kind/class pairs the author
may file (policies/kinds.yaml and the classes they may write), which agencies will read
each under the case's area policy, which of several victims a note is about, and every
refusal in the words of the GOV.UK error message pattern."""

from __future__ import annotations

from dataclasses import dataclass

from hub.cases.models import Case, Person
from hub.disclosure import Disclosure
from hub.errors import OperationError
from hub.policy import CaseDecision, current_policy
from hub.web.formatting import class_label

GUARDED = "victim.location"
# The page's fields in page order, and the names the API gives them.
PAGE_ORDER = ("type", "subject", "body", "restricted_to")
_PAGE_FIELD = {"class": "type", "kind": "type", "subject_person_id": "subject"}
_WORDS = {"type": "Select what you are recording",
          "subject": "Select every victim, or the one victim the note is about",
          "restricted_to": "Select agencies from the list"}


@dataclass(frozen=True)
class Choice:
    """One kind of entry filed as one class, and the agencies that will read it."""

    kind: str
    info_class: str
    readers: tuple[str, ...]  #: agency kinds, in the policy's order

    @property
    def value(self) -> str:
        return f"{self.kind}:{self.info_class}"

    @property
    def kind_words(self) -> str:
        return self.kind.replace("_", " ")


@dataclass(frozen=True)
class Page:
    choices: list[Choice]
    victims: list[Person]  #: to choose from: only when there are several
    perpetrator_facing: tuple[str, ...]  #: agencies that work with the perpetrator...
    warned_classes: tuple[str, ...]  #: ...and the classes offered here that they read
    agencies: tuple[str, ...]  #: kinds of agency to narrow to: those that do casework


def page(case: Case, decision: CaseDecision, out: Disclosure) -> Page:
    """The form's choices; victims' names to choose from are noted in ``out``."""
    policy, area = current_policy(), case.area.code
    order = list(policy.set.agencies)
    choices = [Choice(kind, name, tuple(sorted(policy.readers(area, name, kind),
                                               key=order.index)))
               for name in policy.classes if decision.can_write(name)
               for kind in policy.set.kinds if policy.may_file(kind, name)
               and kind != "risk_assessment"]  # recorded with its tool, not as a note
    denied = policy.forbidden(area, GUARDED)
    facing = tuple(a for a in order if a in denied)
    warned = tuple(dict.fromkeys(c.info_class for c in choices
                                 if set(c.readers) & set(facing)))
    victims = _victims(case, decision)
    for victim in victims:
        out.add("victim.identity", victim)
    return Page(choices, victims, facing, warned, policy.casework_kinds())


def _victims(case: Case, decision: CaseDecision) -> list[Person]:
    """Several victims, and the author writes something about victims: they choose."""
    policy, victims = current_policy(), case.people("victim")
    about_victims = any("victim" in policy.about(c) for c in decision.write)
    if len(victims) > 1 and about_victims and decision.can_read("victim.identity"):
        return victims
    return []


def posted(form) -> dict:
    """The note as the API takes it. The page posts kind and class as one choice
    (``type``); a post naming them apart, as the API does, is taken too."""
    if "type" in form:
        kind, _, info_class = form.get("type", "").partition(":")
    else:
        kind, info_class = form.get("kind", ""), form.get("class", "")
    data = {"body": form.get("body", ""), "class": info_class, "kind": kind or "note"}
    if form.getlist("restricted_to"):
        data["restricted_to"] = form.getlist("restricted_to")
    subject = form.get("subject", "").strip()
    if subject:
        data["subject_person_id"] = int(subject) if subject.isdecimal() else subject
    return data


def invalid(found: dict[str, str], form) -> dict[str, str]:
    """Schema errors (field -> message) as the page names and words them."""
    errors = {}
    for key, message in found.items():
        field = _PAGE_FIELD.get(key, key)
        errors.setdefault(field, _body(message, form) if field == "body"
                          else _WORDS.get(field, message))
    return _in_page_order(errors)


def refused(exc: OperationError, form) -> dict[str, str]:
    """An operation's refusal as the page names and words it."""
    field = _PAGE_FIELD.get(exc.field or "body", exc.field or "body")
    if exc.field == "kind":
        data = posted(form)
        message = f"A {data['kind'].replace('_', ' ')} cannot be recorded as " \
                  f"{class_label(data['class'])}: select one of the choices listed"
    elif exc.field == "class":
        message = _WORDS["type"] if exc.status == 400 else exc.message.capitalize()
    else:
        message = _WORDS.get(field) if field != "body" else exc.message
    return {field: message}


def _body(message: str, form) -> str:
    if not form.get("body", "").strip():
        return "Enter the note"
    if "NUL" in message:
        return message
    return "The note must be 20,000 characters or fewer"


def _in_page_order(errors: dict[str, str]) -> dict[str, str]:
    return dict(sorted(errors.items(), key=lambda kv: PAGE_ORDER.index(kv[0])
                       if kv[0] in PAGE_ORDER else len(PAGE_ORDER)))
