"""The input boundary: text every request must hold before any handler sees it, and text
every response must hold before it is sent.

Refused once here, with a 400 naming the field, rather than as a 500 wherever it lands:
- NUL: PostgreSQL cannot store it in text.
- An unpaired surrogate (JSON's ``"\\ud800"`` escape makes one): it cannot be encoded as
  UTF-8, so it breaks the database driver, a hash, or every later page that shows it.
- A JSON key given twice: parsers disagree on which one wins, so what a reviewer reads and
  what the hub stores could differ (``"restricted_to"`` given, then given as null).
- NaN and Infinity, which Python's parser takes but JSON does not have.

Text already stored before these rules cannot break a page either: responses replace any
unpaired surrogate with U+FFFD when they are encoded.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator

from flask import Request, Response
from flask import json as flask_json

_SURROGATE = re.compile("[\ud800-\udfff]")


class BadInput(Exception):
    """Input refused with a 400 that names the field (``None``: the body as a whole)."""

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.message, self.field = message, field


def bad_text(text: str) -> str | None:
    """Why ``text`` cannot be taken as text, or None when it can."""
    if "\x00" in text:
        return "must not contain NUL characters"
    if not text.isascii() and _SURROGATE.search(text):
        return "must not contain unpaired surrogates (text must be valid Unicode)"
    return None


def printable(name: str) -> str:
    """A field name fit to show in a message: without the characters refused above."""
    return _SURROGATE.sub("", name.replace("\x00", ""))


def first_bad(fields: Iterable[tuple[str, str]]) -> tuple[str, str] | None:
    """The first (field, reason) whose name or value is not text, or None."""
    for name, value in fields:
        reason = bad_text(name) or bad_text(value)
        if reason:
            return printable(name), reason
    return None


# -- JSON bodies ---------------------------------------------------------------------------
class _Repeated(dict):
    """An object in which ``key`` was given more than once."""

    def __init__(self, pairs, key: str):
        super().__init__(pairs)
        self.repeated = key


def _object(pairs: list[tuple[str, object]]) -> dict:
    out = dict(pairs)
    if len(out) == len(pairs):
        return out
    seen: set[str] = set()
    for key, _value in pairs:
        if key in seen:
            return _Repeated(pairs, key)
        seen.add(key)
    return out  # not reached: a shorter dict means a key was repeated


def _no_constant(name: str):
    raise BadInput(f"the body is not valid JSON: {name} is not a JSON number")


def _problem(value) -> tuple[str | None, str] | None:
    """The first problem in a parsed body, depth first in document order, with its dotted
    path; iterative, so a deep body cannot exhaust the stack."""
    stack: list[tuple[str, object]] = [("", value)]
    while stack:
        path, item = stack.pop()
        if isinstance(item, str):
            reason = bad_text(item)
            if reason:
                return path or None, reason
        elif isinstance(item, dict):
            if isinstance(item, _Repeated):
                return _join(path, item.repeated), "is given more than once"
            found = first_bad((k, "") for k in item)
            if found:
                return _join(path, found[0]), found[1]
            stack.extend((_join(path, k), v) for k, v in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((_join(path, str(i)), v) for i, v in reversed(list(enumerate(item))))
    return None


def _join(path: str, key: str) -> str:
    key = printable(key)
    return f"{path}.{key}" if path else key


class StrictJSON:
    """The ``json_module`` request bodies are read with (``request.get_json``)."""

    @staticmethod
    def loads(text, **kwargs):
        value = json.loads(text, object_pairs_hook=_object, parse_constant=_no_constant,
                           **kwargs)
        problem = _problem(value)
        if problem:
            field, reason = problem
            raise BadInput(f"{field or 'body'}: {reason}", field)
        return value

    @staticmethod
    def dumps(value, **kwargs):
        return flask_json.dumps(value, **kwargs)


def request_fields(request: Request) -> Iterator[tuple[str, str]]:
    """Every piece of text a request carries outside its JSON body: path, query, form."""
    yield "path", request.path
    for key, values in request.args.lists():
        yield from ((key, v) for v in values)
    if request.mimetype in ("application/x-www-form-urlencoded", "multipart/form-data"):
        for key, values in request.form.lists():
            yield from ((key, v) for v in values)


class HubRequest(Request):
    """Reads JSON bodies strictly. Flask hands every request the app's JSON provider
    (``request.json_module = app.json``); that provider also reads the session cookie,
    which must stay lenient, so the assignment is ignored here rather than the provider
    made strict."""

    @property
    def json_module(self):
        return StrictJSON

    @json_module.setter
    def json_module(self, _provider) -> None:
        pass


# -- responses ----------------------------------------------------------------------------
def carry_headers(response: Response, exc) -> Response:
    """An error page or JSON error built by the hub keeps the headers werkzeug's exception
    carries (Allow on a 405, Retry-After, WWW-Authenticate), except its content type."""
    for name, value in exc.get_headers():
        if name.lower() != "content-type":
            response.headers.setdefault(name, value)
    return response


def _encode(text: str) -> bytes:
    """UTF-8, with any unpaired surrogate (text stored before the rules above) shown as
    U+FFFD instead of failing the whole page."""
    try:
        return text.encode()
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text).encode()


class HubResponse(Response):
    def set_data(self, value) -> None:
        super().set_data(_encode(value) if isinstance(value, str) else value)

    def iter_encoded(self) -> Iterator[bytes]:
        return _iter_encoded(self.response)  # fetched now, as werkzeug's own does


def _iter_encoded(items) -> Iterator[bytes]:
    for item in items:
        yield _encode(item) if isinstance(item, str) else item
