"""Leetspeak: letters replaced by look-alike digits (a->4, e->3, i->1, o->0, s->5, t->7).

Why a fixed table and not random picks: the same message must give the same attack in
every run (store keys, pairing across targets), and a reader can still read it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import ClassVar

from redline.attack.converters.base import Stateless

TABLE = str.maketrans("aeiostAEIOST", "431057431057")


class Leetspeak(Stateless):
    """Six common letters (either case) as digits; everything else unchanged."""

    name: ClassVar[str] = "leetspeak"
    description: ClassVar[str] = "letters as look-alike digits (a->4, e->3, i->1, o->0, s->5, t->7)"
    needs_model: ClassVar[bool] = False
    options: ClassVar[Mapping[str, str]] = {}

    def convert(self, text: str, *, seed: int) -> str:
        return text.translate(TABLE)
