"""What text the store accepts: one rule for SQLite and PostgreSQL, import and web forms.

PostgreSQL cannot store U+0000 (NUL) in text at all, and no database can store a lone
UTF-16 surrogate (U+D800-U+DFFF without its pair: JSON's ``"\\ud800"`` decodes to one,
but it is not a character and has no UTF-8 form). SQLite would keep the first and fail
on the second. So both are refused everywhere text enters, before anything is written,
with the position and a way to fix it, and both databases hold the same data.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

_FORBIDDEN = re.compile("[\x00\ud800-\udfff]")


def text_problem(value: str) -> str | None:
    """Why ``value`` cannot be stored, in words, or None when it can."""
    match = _FORBIDDEN.search(value)
    if match is None:
        return None
    char, position = match.group(), match.start()
    if char == "\x00":
        return (
            f"contains a NUL character (U+0000) at character {position}, which Redline "
            "does not store; remove it"
        )
    return (
        f"contains a lone surrogate (U+{ord(char):04X}) at character {position}: not a "
        "Unicode character (a broken \\u escape or a badly cut emoji); fix or remove it"
    )


def iter_text(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string in a JSON value (object keys too), with where it sits (``a.b[2]``)."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            if isinstance(key, str):
                yield where, key
            yield from iter_text(item, where)
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from iter_text(item, f"{path}[{index}]")


def first_text_problem(value: Any) -> tuple[str, str] | None:
    """(where, why) for the first string in ``value`` that cannot be stored, or None."""
    for where, text in iter_text(value):
        problem = text_problem(text)
        if problem is not None:
            return where, problem
    return None
