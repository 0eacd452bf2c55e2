"""``python -m audit verify``: exit 0 intact, 1 not intact, 2 usage error."""

from __future__ import annotations

import base64
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from audit import Signer
from audit.__main__ import main

from .logkit import ORIGIN, make_events, sign_sizes

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture
def exported(tmp_path: Path) -> dict[str, Any]:
    """An exported log on disk: events.jsonl, a checkpoint directory and a witness file."""
    signer = Signer.generate(ORIGIN)
    events = make_events(50)
    (tmp_path / "events.jsonl").write_text("".join(json.dumps(e) + "\n" for e in events))
    checkpoints = tmp_path / "checkpoints"
    checkpoints.mkdir()
    for size, note in zip((10, 32, 50), sign_sizes(events, (10, 32, 50), signer), strict=True):
        (checkpoints / f"{size:08d}.note").write_text(note)
    (tmp_path / "witness.note").write_text(sign_sizes(events, [50], signer)[0])
    return {
        "dir": tmp_path,
        "args": [
            "verify",
            *_options(
                events=tmp_path / "events.jsonl",
                checkpoints=checkpoints,
                witness=tmp_path / "witness.note",
                public_key=base64.b64encode(signer.public_key).decode(),
                key_name=ORIGIN,
            ),
        ],
    }


def _options(**values: object) -> list[str]:
    return [
        item for key, value in values.items() for item in (f"--{key.replace('_', '-')}", str(value))
    ]


def _set(args: list[str], option: str, value: str) -> list[str]:
    out = list(args)
    out[out.index(option) + 1] = value
    return out


def test_intact(exported: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    assert main(exported["args"]) == 0
    assert capsys.readouterr().out == "audit log intact: 50 leaves, 4 checkpoints checked\n"


def test_tampered(exported: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    path = exported["dir"] / "events.jsonl"
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(lines[:20] + lines[21:]))
    assert main(exported["args"]) == 1
    out = capsys.readouterr().out
    assert out.startswith("audit log NOT intact: 49 leaves, 2 checkpoints checked, ")
    assert "first problem: leaf 21 (event seq 31): expected leaf_index 20" in out


def test_corrupt_events_file(exported: dict[str, Any], capsys: pytest.CaptureFixture[str]) -> None:
    with (exported["dir"] / "events.jsonl").open("a") as handle:
        handle.write("{not json\n")
    assert main(exported["args"]) == 1
    assert "line 51 is not valid JSON" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("option", "value", "message"),
    [
        ("--public-key", "not base64!", "not base64"),
        ("--public-key", base64.b64encode(b"short").decode(), "32 bytes"),
        ("--checkpoints", "/no/such/dir", "no such file"),
        ("--events", "/no/such/events.jsonl", "no such file"),
    ],
)
def test_usage_errors(
    exported: dict[str, Any],
    capsys: pytest.CaptureFixture[str],
    option: str,
    value: str,
    message: str,
) -> None:
    assert main(_set(exported["args"], option, value)) == 2
    assert message in capsys.readouterr().err


def test_missing_argument_is_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as excinfo:
        main(["verify", "--events", "x"])
    assert excinfo.value.code == 2
    capsys.readouterr()


def test_runs_as_module_without_the_hub(exported: dict[str, Any]) -> None:
    """The auditor's tool must not need Flask or SQLAlchemy."""
    check = (
        "import runpy, sys; sys.argv = ['audit', *sys.argv[1:]];"
        "code = 0\n"
        "try: runpy.run_module('audit', run_name='__main__')\n"
        "except SystemExit as e: code = e.code\n"
        "assert not {'flask', 'sqlalchemy'} & set(sys.modules), 'hub imported'\n"
        "sys.exit(code)"
    )
    result = subprocess.run(  # noqa: S603 - fixed interpreter and arguments
        [sys.executable, "-c", check, *exported["args"]],
        cwd=REPO, capture_output=True, text=True, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("audit log intact")
