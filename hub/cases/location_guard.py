"""The safety net under DOMAIN rule 3 for free text: a victim's location must not reach,
by way of something typed, an agency that may not see it.

Every write of free text calls ``check`` (or ``check_case``) with who will read it: its
class, its kind and the agencies its author narrowed it to, under the case's area policy.
When an agency that may not read ``victim.location`` would read it, and it holds any of
the case's own victims' location values (postcode, phone, email, a distinctive part of an
address or workplace, however spaced, cased or punctuated), the write is refused (400
naming the field and those agencies). The author may take the value out, or narrow the
entry to agencies entitled to the location.

An author who may not see the location themselves (an NHS clinician who heard an address
from the perpetrator) is never refused: the refusal would confirm the address to them.
Their text is kept and the audit log records a ``location-guard:flag`` event, without the
text, for a data protection officer to review.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from typing import NamedTuple

from hub.auditlog import writer as audit
from hub.cases.models import ENCRYPTED_FIELDS
from hub.crypto import KeyDestroyed
from hub.errors import Invalid
from hub.policy import current_policy
from hub.web.formatting import agency_label, join_and

GUARDED = "victim.location"
FIELDS = ENCRYPTED_FIELDS  # a victim's: her location
FLAG = "location-guard:flag"


class Location(NamedTuple):
    """One location value of a victim (``person_id`` None before the person is stored)."""

    person_id: int | None
    field: str  #: address, phone, email or workplace
    value: str
    victim: int = 0  #: which of the case's victims, counting from 0


def check(author, text: str | None, *, field: str, area: str, info_class: str,
          locations: Iterable[Location], kind: str | None = None,
          restricted_to: Iterable[str] | None = None, case_id: int | None = None,
          can_narrow: bool = False) -> None:
    """Refuse ``text`` (Invalid naming ``field``) if it would show a victim's location to
    an agency that may not see it. ``kind`` None: a field of the case, read by everyone
    who reads the whole class. Records nothing and reads no location when nobody is
    exposed. ``can_narrow``: the message may suggest narrowing (entries can be)."""
    policy = current_policy()
    exposed = set(policy.exposed(area, info_class, kind, GUARDED))
    if restricted_to is not None:
        exposed &= set(restricted_to)
    if not text or not exposed:
        return
    locations = list(locations)
    hits = found(text, locations)
    if not hits:
        return
    if not policy.sees_whole(author.agency.kind, author.role, area, GUARDED):
        _flag(author, hits, field, info_class, exposed, case_id)
        return
    entitled = policy.readers(area, info_class, kind) - policy.exposed(
        area, info_class, kind, GUARDED) if can_narrow else frozenset()
    several = len({loc.victim for loc in locations}) > 1
    raise Invalid(_message(field, hits, exposed, entitled, several), field)


def _flag(author, hits: list[Location], field: str, info_class: str, exposed: set[str],
          case_id: int | None) -> None:
    """Kept, not refused, for the DPO to review: ids and field names only, never the text."""
    audit.record(FLAG, case_id=case_id, classes=[info_class, GUARDED],
                 subject_ids={h.person_id for h in hits if h.person_id is not None},
                 details={"field": field, "agencies": sorted(exposed),
                          "found": _ordered({h.field for h in hits}, FIELDS)},
                 user=author)


def check_case(author, case, text: str | None, *, field: str, info_class: str,
               kind: str | None = None, restricted_to: Iterable[str] | None = None,
               can_narrow: bool = False) -> None:
    """``check`` for text written on an existing case, against its own victims."""
    check(author, text, field=field, area=case.area.code, info_class=info_class,
          locations=case_locations(case), kind=kind, restricted_to=restricted_to,
          case_id=case.id, can_narrow=can_narrow)


def case_locations(case) -> Iterator[Location]:
    """The location values of the case's victims, read only when needed (a generator)."""
    for index, person in enumerate(case.people("victim")):
        try:
            values = [(f, person.get_secret(f)) for f in FIELDS]
        except KeyDestroyed:  # erased: nothing left to leak
            continue
        yield from (Location(person.id, f, v, index) for f, v in values if v)


def new_case_locations(victims: list[dict]) -> list[Location]:
    """The location values of victims given to create a case (not stored yet)."""
    return [Location(None, f, v[f], index) for index, v in enumerate(victims)
            for f in FIELDS if v.get(f)]


# -- words -----------------------------------------------------------------------------------
_WHAT = {"body": "The note", "summary": "The summary", "title": "The title"}
_FIELD_WORDS = {"address": "address", "phone": "phone number", "email": "email address",
                "workplace": "workplace"}


def _message(field: str, hits, exposed, entitled, several: bool) -> str:
    what = _WHAT.get(field, "This text")
    whose = "a victim's" if several else "the victim's"
    kinds = join_and([_FIELD_WORDS[f] for f in _ordered({h.field for h in hits}, FIELDS)])
    message = f"{what} contains {whose} {kinds}, and {_agencies(exposed)} would see it. " \
              "Take it out"
    if entitled:
        message += f", or narrow {what.lower()} to {_agencies(entitled)}"
    return message + "."


def _agencies(codes) -> str:
    order = list(current_policy().set.agencies)
    return join_and([agency_label(c) for c in sorted(codes, key=order.index)])


def _ordered(values: set[str], order: tuple[str, ...]) -> list[str]:
    return [v for v in order if v in values]


# -- matching --------------------------------------------------------------------------------
# A postcode anywhere in a value: "E1 0ZZ", "SO23 0ZZ", "EC1A 1BB".
_POSTCODE = re.compile(r"\b([A-Z]{1,2}[0-9][A-Z0-9]?)\s*([0-9][A-Z]{2})\b", re.IGNORECASE)
# Digits as people write a phone number: "+44 (0)7700 900-123".
_DIGIT_RUN = re.compile(r"\+?[0-9][0-9\s().\-/]*")
# Street words and how they are shortened, so "12 Example Rd" is "12 Example Road".
_STREET = {"road": "rd", "street": "st", "avenue": "ave", "lane": "ln", "close": "cl",
           "drive": "dr", "place": "pl", "crescent": "cres", "court": "ct", "gardens": "gdns",
           "square": "sq", "terrace": "terr", "grove": "gr", "park": "pk", "parade": "pde",
           "green": "grn", "walk": "wlk", "mews": "mews", "row": "row", "way": "way",
           "hill": "hill", "rise": "rise", "view": "view", "vale": "vale", "yard": "yd"}
# Words that say nothing about where one person is: a part made only of these (and
# numbers) is not distinctive, so "London", "Flat 3" or "the library" never match.
_GENERIC = {
    *_STREET, *_STREET.values(), "flat", "apartment", "apt", "unit", "floor", "room",
    "block", "house", "building", "estate", "the", "of", "and", "at", "on", "in", "by",
    "north", "south", "east", "west", "upper", "lower", "new", "old", "great", "little",
    "high", "main", "station", "church", "mill", "market", "london", "library", "school",
    "college", "university", "hospital", "surgery", "clinic", "centre", "center", "office",
    "offices", "shop", "store", "hall", "cottage", "farm", "ltd", "limited", "plc", "uk",
}


def found(text: str, locations: Iterable[Location]) -> list[Location]:
    """The location values that ``text`` contains, however spaced, cased or punctuated."""
    words = _Words(_tokens(text))
    runs = [re.sub(r"[^0-9]", "", r) for r in _DIGIT_RUN.findall(text)]
    return [loc for loc in dict.fromkeys(locations)
            if (loc.field == "phone" and _phone_in(runs, loc.value))
            or (loc.field != "phone" and any(words.has(n) for n in _needles(loc)))]


def _tokens(text: str) -> list[str]:
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode().casefold()
    return re.findall(r"[a-z0-9]+", plain)


class _Words:
    """Text as its words run together, matched only from a word's start to a word's end:
    "E1 0ZZ", "e10zz" and "E1-0ZZ" all hold "e10zz"; "EC1 0ZZ" does not."""

    def __init__(self, tokens: list[str]):
        self.joined, self.starts, self.ends, at = "".join(tokens), set(), set(), 0
        for token in tokens:
            self.starts.add(at)
            at += len(token)
            self.ends.add(at)

    def has(self, needle: str) -> bool:
        at = self.joined.find(needle)
        while at != -1:
            if at in self.starts and at + len(needle) in self.ends:
                return True
            at = self.joined.find(needle, at + 1)
        return False


def _phone_in(runs: list[str], value: str) -> bool:
    """A number matches with or without its leading 0, +44 or 0044."""
    digits = re.sub(r"[^0-9]", "", value)
    for prefix in ("0044", "44"):
        if digits.startswith(prefix) and len(digits) > 10:
            digits = digits[len(prefix):]
            break
    digits = digits.lstrip("0")
    return len(digits) >= 7 and any(digits in run for run in runs)


def _needles(loc: Location) -> set[str]:
    if loc.field == "email":
        joined = "".join(_tokens(loc.value))
        return {joined} if len(joined) >= 6 else set()
    return {n for n in _place_needles(loc.value) if len(n) >= 4}


def _place_needles(value: str) -> set[str]:
    """The postcode, and every distinctive part of an address or workplace: "12 Example
    Road", "Example Road", "Example Library"; not the town it ends with."""
    needles = {(m.group(1) + m.group(2)).casefold() for m in _POSTCODE.finditer(value)}
    parts = [t for p in re.split(r"[,;\n]+", _POSTCODE.sub(" ", value)) if (t := _tokens(p))]
    if len(parts) > 1 and _is_town(parts[-1]):
        parts = parts[:-1]
    for tokens in parts:
        needles |= _part_needles(tokens)
    return needles


def _is_town(tokens: list[str]) -> bool:
    return not any(t[0].isdigit() or t in _STREET for t in tokens)


def _part_needles(tokens: list[str]) -> set[str]:
    needles = _spellings(tokens) if _distinctive(tokens) else set()
    for i, token in enumerate(tokens):
        if not token[0].isdigit():
            continue
        end = next((j for j in range(i + 1, len(tokens)) if tokens[j] in _STREET),
                   len(tokens) - 1)
        name = tokens[i + 1:end + 1]
        if name and _distinctive(name):  # "12 Example Road" and "Example Road"
            needles |= _spellings(tokens[i:end + 1]) | _spellings(name)
    return needles


def _distinctive(tokens: list[str]) -> bool:
    return any(len(t) >= 3 and not t[0].isdigit() and t not in _GENERIC for t in tokens)


def _spellings(tokens: list[str]) -> set[str]:
    return {"".join(tokens), "".join(_STREET.get(t, t) for t in tokens)}
