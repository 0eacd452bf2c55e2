"""Form errors as pages show them (the GOV.UK error summary lists every field)."""

from __future__ import annotations


def all_errors(messages, prefix: str = "") -> dict[str, str]:
    """Every field in error (dotted, as the templates name them), with its first message:
    a page's error summary lists them all, as the GOV.UK pattern asks."""
    if isinstance(messages, dict):
        out: dict[str, str] = {}
        for key, value in messages.items():
            out.update(all_errors(value, f"{prefix}.{key}" if prefix else str(key)))
        return out
    if isinstance(messages, list) and messages and not isinstance(messages[0], str):
        return all_errors(messages[0], prefix)
    first = messages[0] if isinstance(messages, list) and messages else messages
    return {prefix or "summary": str(first)}
