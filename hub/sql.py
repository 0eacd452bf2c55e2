"""SQL helpers every package's queries share."""

LIKE_ESCAPE = "\\"


def escape_like(text: str) -> str:
    """``text`` for a LIKE pattern, its own wildcards (and the escape) taken literally."""
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def contains(text: str) -> str:
    """A LIKE pattern (escaped with ``LIKE_ESCAPE``) finding ``text`` anywhere."""
    return f"%{escape_like(text)}%"
