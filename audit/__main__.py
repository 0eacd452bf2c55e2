"""Command line for an offline auditor: ``python -m audit verify ...``.

Needs only this package, ``cryptography`` and ``rfc8785``; no hub, no database. Exit
status: 0 the log is intact, 1 it is not, 2 the command was used wrongly.
"""

from __future__ import annotations

import argparse
import base64
import binascii
import json
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from .note import MAX_NOTE_BYTES
from .verify import VerifyReport, verify_log

EXIT_INTACT, EXIT_NOT_INTACT, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """Bad arguments or unreadable inputs: exit 2, not a verdict on the log."""


class BrokenExport(Exception):
    """The events file itself is corrupt: a verdict (exit 1), with the line number."""


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="python -m audit", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    verify = commands.add_parser("verify", help="check an exported log against checkpoints")
    verify.add_argument("--events", required=True, type=Path, help="JSON lines, leaf order")
    verify.add_argument(
        "--checkpoints", required=True, type=Path, help="a signed-note file, or a directory"
    )
    verify.add_argument(
        "--witness",
        action="append",
        default=[],
        type=Path,
        help="witness copies of checkpoints (file or directory); repeatable",
    )
    verify.add_argument("--public-key", required=True, help="Ed25519 key, base64 of 32 bytes")
    verify.add_argument("--key-name", required=True, help="the key name in signature lines")
    return parser


def _public_key(text: str) -> bytes:
    try:
        key = base64.b64decode(text, validate=True)
    except binascii.Error:
        raise UsageError("--public-key is not base64") from None
    if len(key) != 32:
        raise UsageError(f"--public-key must be 32 bytes, got {len(key)}")
    return key


def _note_files(path: Path) -> list[Path]:
    """One note per file; a directory contributes its visible files in name order."""
    if path.is_dir():
        return sorted(p for p in path.iterdir() if p.is_file() and not p.name.startswith("."))
    if path.is_file():
        return [path]
    raise UsageError(f"{path}: no such file or directory")


def _read_note(path: Path) -> bytes:
    # One byte past the limit is enough for the parser to refuse an oversized note.
    with path.open("rb") as handle:
        return handle.read(MAX_NOTE_BYTES + 1)


def _read_notes(path: Path) -> list[bytes]:
    return [_read_note(p) for p in _note_files(path)]


def _events(path: Path) -> Iterator[dict[str, Any]]:
    """Stream events from JSON lines, so a large log needs no more memory than a small one."""
    with path.open(encoding="utf-8") as handle:
        for number, line in enumerate(handle, 1):
            if not line.strip():
                continue
            try:
                event = json.loads(line)
            except json.JSONDecodeError as exc:
                raise BrokenExport(f"{path} line {number} is not valid JSON: {exc}") from None
            if not isinstance(event, dict):
                raise BrokenExport(f"{path} line {number} is not a JSON object")
            yield event


def _print_report(report: VerifyReport) -> None:
    summary = f"{report.leaves} leaves, {report.checkpoints_checked} checkpoints checked"
    if report.ok:
        print(f"audit log intact: {summary}")
        if report.covered < report.leaves:
            print(f"note: leaves {report.covered}.. are not yet covered by a checkpoint")
        return
    print(f"audit log NOT intact: {summary}, {len(report.problems)} problem(s)")
    print(f"first problem: {report.first_problem}")
    for problem in report.problems[1:]:
        print(f"  also: {problem}")


def _verify(args: argparse.Namespace) -> int:
    key = _public_key(args.public_key)
    checkpoints = _read_notes(args.checkpoints)
    witness = [note for path in args.witness for note in _read_notes(path)]
    if not args.events.is_file():
        raise UsageError(f"{args.events}: no such file")
    try:
        report = verify_log(_events(args.events), checkpoints, key, args.key_name, witness=witness)
    except (BrokenExport, UnicodeDecodeError) as exc:
        print(f"audit log NOT intact: {exc}")
        return EXIT_NOT_INTACT
    _print_report(report)
    return EXIT_INTACT if report.ok else EXIT_NOT_INTACT


def main(argv: Sequence[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    try:
        return _verify(args)
    except (UsageError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
