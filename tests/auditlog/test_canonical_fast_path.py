"""The fast canonical encoder must give exactly the bytes of the rfc8785 package, or a
leaf hash would depend on which path an event took."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from audit.canonical import CanonicalizationError, canonical_bytes, canonical_bytes_reference

# Astral-plane characters, controls and lone surrogates included on purpose.
text = st.text(st.characters(codec=None, exclude_categories=()), max_size=12)
scalars = (st.none() | st.booleans() | text
           | st.integers(min_value=-(2**53) - 3, max_value=2**53 + 3)
           | st.integers(min_value=-100, max_value=100)
           | st.floats(allow_nan=False, allow_infinity=False, width=64))
values = st.recursive(scalars, lambda inner: st.lists(inner, max_size=4)
                      | st.dictionaries(text, inner, max_size=4), max_leaves=20)
event_like = st.fixed_dictionaries({
    "seq": st.integers(min_value=1, max_value=2**53 - 1),
    "at": text, "username": st.none() | text, "case_id": st.none() | st.integers(),
    "classes": st.lists(text, max_size=5), "subject_ids": st.lists(st.integers(), max_size=5),
    "details": st.dictionaries(text, values, max_size=5)})


def same_or_both_refused(obj) -> None:
    try:
        expected = canonical_bytes_reference(obj)
    except (CanonicalizationError, UnicodeEncodeError) as exc:
        with pytest.raises(type(exc)):
            canonical_bytes(obj)
        return
    assert canonical_bytes(obj) == expected


@settings(max_examples=400, deadline=None)
@given(event_like)
def test_generated_events_encode_identically(event):
    same_or_both_refused(event)


@settings(max_examples=400, deadline=None)
@given(values)
def test_any_json_value_encodes_identically(value):
    same_or_both_refused(value)


@pytest.mark.parametrize("obj", [
    {"\U0001f600": 1, "\uffff": 2, "a": 3},  # UTF-16 order differs from code point order
    {"x": 2**53 - 1, "y": -(2**53 - 1)}, {"x": 1.0}, {"x": 1e21}, {"\x7f\u2028": "\x00\x1f"},
    [True, False, None, ""],
])
def test_edge_cases_encode_identically(obj):
    assert canonical_bytes(obj) == canonical_bytes_reference(obj)


@pytest.mark.parametrize("obj", [{"x": 2**53}, {1: "int key"}, {"x": "\ud800"}])
def test_what_rfc8785_refuses_is_still_refused(obj):
    with pytest.raises(CanonicalizationError):
        canonical_bytes(obj)
