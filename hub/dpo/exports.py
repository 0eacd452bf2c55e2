"""CSV export of audit search results, safe to open in a spreadsheet.

A cell that starts with = + - @ tab or CR is read by spreadsheet programs as a formula
(CSV injection, OWASP); such cells are prefixed with a single quote so they stay text.
"""

from __future__ import annotations

import csv
import io

from hub.dpo import queries

FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
COLUMNS = ("seq", "at", "username", "agency", "role", "action", "outcome", "case_id",
           "classes", "subject_ids", "purpose", "rule", "request_id")
MAX_ROWS = 50_000


class TooMany(Exception):
    """The export would exceed MAX_ROWS: the DPO should narrow the filters."""


def safe_cell(value) -> str:
    if value is None:
        return ""
    if isinstance(value, list):
        value = " ".join(str(v) for v in value)
    text = str(value)
    return "'" + text if text.startswith(FORMULA_STARTS) else text


def events_csv(args: dict) -> tuple[str, int]:
    """The filtered events as CSV text and the number of rows; refuses oversized exports."""
    total = queries.count(args)
    if total > MAX_ROWS:
        raise TooMany(f"{total} events match; narrow the filters to at most {MAX_ROWS}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(COLUMNS)
    rows = 0
    for event in queries.iterate(args, MAX_ROWS):
        body = queries.event_out(event)
        writer.writerow([safe_cell(body[c]) for c in COLUMNS])
        rows += 1
    return out.getvalue(), rows
