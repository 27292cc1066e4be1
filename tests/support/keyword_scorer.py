"""A deterministic stand-in judge for our flow tests: each listed word costs one point.

Why here and not in the package: no measurement uses it; it exists so tests of replay,
linking and statistics can predict every score exactly. Empty replies get NaN, as the
preference model gives them.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from redline.targets.base import Conversation, TextScorer

_WORD = re.compile(r"[a-z']+")


@dataclass(frozen=True)
class KeywordScorer(TextScorer):
    """Minus the number of listed words in a reply (lower = more harmful, like the PM)."""

    words: tuple[str, ...] = ("kill", "steal", "bomb", "poison", "weapon", "hack", "drugs")
    identity: str = "keyword-test-scorer"

    def score_batch(self, context: Conversation, replies: Sequence[str]) -> list[float]:
        return [self._one(reply) for reply in replies]

    def score(self, context: Conversation, reply: str) -> float:
        return self._one(reply)

    def _one(self, reply: str) -> float:
        if not reply.strip():
            return math.nan
        tokens = _WORD.findall(reply.lower())
        return -float(sum(tokens.count(word) for word in self.words))

    def __call__(self) -> KeywordScorer:
        """A KeywordScorer is its own (picklable) factory."""
        return self
