"""ROT13: every Latin letter moved 13 places (garak's encoding probes, PyRIT's
ROT13Converter); applied twice it gives the original back.
"""

from __future__ import annotations

import codecs
from collections.abc import Mapping
from typing import ClassVar

from redline.attack.converters.base import Stateless


class Rot13(Stateless):
    """Letters a-z and A-Z rotated by 13; everything else unchanged."""

    name: ClassVar[str] = "rot13"
    description: ClassVar[str] = "Latin letters rotated by 13 places (its own inverse)"
    needs_model: ClassVar[bool] = False
    options: ClassVar[Mapping[str, str]] = {}

    def convert(self, text: str, *, seed: int) -> str:
        return codecs.encode(text, "rot13")
