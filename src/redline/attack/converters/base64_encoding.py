"""Base64: the message as base64 of its UTF-8 bytes (garak's encoding probes, PyRIT's
Base64Converter).

Why: a model that learnt to refuse a request in words may still decode and answer it;
the encoding is exact, so :func:`decode` gives the original back.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from typing import ClassVar

from redline.attack.converters.base import Stateless


class Base64(Stateless):
    """The whole message, base64-encoded (no instruction added: compose with
    ``roleplay`` or a converter of your own for a framing)."""

    name: ClassVar[str] = "base64"
    description: ClassVar[str] = "the message as base64 of its UTF-8 bytes"
    needs_model: ClassVar[bool] = False
    options: ClassVar[Mapping[str, str]] = {}

    def convert(self, text: str, *, seed: int) -> str:
        return base64.b64encode(text.encode("utf-8")).decode("ascii")


def decode(text: str) -> str:
    """The original of :meth:`Base64.convert` (for tests and reviewers)."""
    return base64.b64decode(text.encode("ascii"), validate=True).decode("utf-8")
