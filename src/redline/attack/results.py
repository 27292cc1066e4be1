"""Plain results of one attacked conversation: what workers send back to be stored.

Why plain dataclasses: they cross process and Ray boundaries (pickled), and the store
is written only by the main process, so a worker never holds a database connection.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any


@dataclass
class CandidateResult:
    """One reply to a turn with its harmlessness (None when unscorable)."""

    text: str
    harmlessness: float | None
    latency_s: float
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class TurnResult:
    """A human message and its candidates; the first candidate continued the chat."""

    human: str
    candidates: list[CandidateResult]


@dataclass
class ConversationResult:
    """A finished (or failed) attack on one target, keyed by its store ``key``."""

    key: str
    target: str
    source_attempt_id: int | None = None
    turns: list[TurnResult] = field(default_factory=list)
    task_description: str | None = None
    task_description_harmlessness: float | None = None
    scored_by: str | None = None
    attacker: str | None = None
    seconds: float = 0.0
    error: str | None = None
    #: Kept as ``Attempt.extra``: where a strategy's search put this conversation
    #: (``strategy``, ``node``, ``parent``, ``score``); None for a lone conversation.
    extra: dict[str, Any] | None = None

    @property
    def picked_scores(self) -> list[float]:
        """Scores of the replies that continued the conversation (first candidates)."""
        return [
            t.candidates[0].harmlessness
            for t in self.turns
            if t.candidates and t.candidates[0].harmlessness is not None
        ]

    @property
    def min_harmlessness(self) -> float | None:
        scores = self.picked_scores
        return min(scores) if scores else None

    @property
    def mean_harmlessness(self) -> float | None:
        scores = self.picked_scores
        return math.fsum(scores) / len(scores) if scores else None
