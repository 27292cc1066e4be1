"""The RL reward: the harmlessness PM's score of each sampled reply, given the attack.

Why a plain callable: TRL accepts any ``f(prompts, completions, **columns) -> rewards``
as a reward function, so the PM keeps running on llama.cpp features (its own backbone)
while the policy trains in PyTorch; nothing of the PM has to be ported. The KL penalty
against the base model is not added here: TRL's RLOO subtracts ``beta * KL`` itself.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from redline.targets.base import Message, Scorer


class PMReward:
    """Scores completions with a :class:`~redline.targets.base.Scorer` (the PM).

    The context the PM sees is the red-team conversation only (the attack), as when it
    scores a live target; the defence's few-shot prompt is not part of it. An empty reply
    has no harmlessness: it gets NaN, which RLOO treats as unscorable (no advantage), so
    the policy is neither pushed to nor away from saying nothing.
    """

    __name__ = "pm"  # TRL names reward functions by ``__name__`` in its logs

    def __init__(self, scorer: Scorer) -> None:
        self.scorer = scorer
        self.calls = 0

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        attack: Sequence[str] | None = None,
        **_: Any,
    ) -> list[float]:
        if attack is None:
            raise ValueError("PMReward needs the dataset's 'attack' column")
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        self.calls += 1
        scores = [math.nan] * len(texts)
        # Completions of one prompt arrive together; score each group against its attack.
        start = 0
        while start < len(texts):
            end = start
            while end < len(texts) and attack[end] == attack[start]:
                end += 1
            group = list(range(start, end))
            context = [Message("human", attack[start])]
            replies = [texts[i].strip() for i in group]
            values = list(self.scorer.score_batch(context, replies))
            for i, value in zip(group, values, strict=True):
                scores[i] = float(value) if texts[i].strip() else math.nan
            start = end
        return scores
