"""Known-answer RFC 6962 proof vectors (transparency-dev/merkle, Apache-2.0; see
testdata/rfc6962/README.md): every file, positive and negative, must give its outcome."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import pytest

from audit import ProofError, verify_consistency, verify_inclusion

VECTORS = Path(__file__).parent / "testdata" / "rfc6962"
INCLUSION = sorted((VECTORS / "inclusion").rglob("*.json"))
CONSISTENCY = sorted((VECTORS / "consistency").rglob("*.json"))


def _ids(paths: list[Path]) -> list[str]:
    return [str(p.relative_to(VECTORS)) for p in paths]


def _load(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text())


def _b64(value: str) -> bytes:
    return base64.b64decode(value)


def _proof(vector: dict[str, Any]) -> list[bytes]:
    return [_b64(p) for p in vector["proof"] or []]


def _outcome(check: Any) -> str | None:
    try:
        check()
    except ProofError as exc:
        return str(exc)
    return None


def test_all_vector_files_are_collected() -> None:
    assert len(INCLUSION) == 98
    assert len(CONSISTENCY) == 98


@pytest.mark.parametrize("path", INCLUSION, ids=_ids(INCLUSION))
def test_inclusion_vector(path: Path) -> None:
    v = _load(path)
    error = _outcome(
        lambda: verify_inclusion(
            _b64(v["leafHash"]), v["leafIdx"], v["treeSize"], _proof(v), _b64(v["root"])
        )
    )
    assert (error is not None) == v["wantErr"], f"{v['desc']}: {error}"


@pytest.mark.parametrize("path", CONSISTENCY, ids=_ids(CONSISTENCY))
def test_consistency_vector(path: Path) -> None:
    v = _load(path)
    error = _outcome(
        lambda: verify_consistency(
            v["size1"], v["size2"], _b64(v["root1"]), _b64(v["root2"]), _proof(v)
        )
    )
    assert (error is not None) == v["wantErr"], f"{v['desc']}: {error}"
