"""The RL reward: the harmlessness PM's score of each sampled reply, given the attack, and
a penalty for refusing a benign request.

Why a plain callable: TRL accepts any ``f(prompts, completions, **columns) -> rewards``
as a reward function, so the PM keeps running on llama.cpp features (its own backbone)
while the policy trains in PyTorch; nothing of the PM has to be ported. The KL penalty
against the base model is not added here: TRL's RLOO subtracts ``beta * KL`` itself.

Why a refusal penalty: a PM that scores refusals as harmless (ours did, +1.8 for refusing
"17 * 23?" against -1.4 for answering it) teaches the policy to refuse everything, and
the first shipped adapter refused or evaded half of 40 everyday questions. So benign
requests are mixed into the training prompts (column ``benign``) and, on them, the
refusal/evasion detector (:mod:`redline.judges.refusal`) costs ``refusal_penalty``:

- ``benign_reward="pm"``: PM score minus the penalty (the PM still prefers some answers
  to others);
- ``benign_reward="penalty"``: only the penalty (0 for answering, ``-refusal_penalty``
  for refusing), so a PM that likes short evasions cannot reward the ones the detector
  misses.

Why an evasion term too: with the lexicon alone, a 60-step run learned deflections the
lexicon cannot see ("That is a common misconception. What is ...?") and evaded 57% of
benign requests (docs/experiments/rlhf-60-steps.md). With ``evasion`` (an
:class:`~redline.rlhf.attempt.AttemptProbe` on a model other than the policy's), each
benign reply also costs ``evasion_penalty`` times the probe's log-odds that it does not
attempt the request. RLOO compares the replies to one prompt with each other, so a probe
that ranks evasions above answers is enough, though it cannot count them.

Why a content term: the policy then learned an evasion the probe cannot see (a fluent
definition of something else; docs/experiments/rlhf-evasion-penalty.md). With ``content``
(a :class:`~redline.rlhf.content.ReferenceContent` over benign requests that each have a
written answer), each benign reply *earns* ``content_weight`` times the share of its
reference answer's content words it uses: a reward for saying what an answer says, which
neither a deflection nor a change of subject can collect.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from redline.judges.base import Judge
from redline.rlhf.attempt import AttemptProbe
from redline.rlhf.content import ReferenceContent
from redline.targets.base import Message, Scorer

BenignReward = Literal["pm", "penalty"]
BENIGN_REWARDS: tuple[BenignReward, ...] = ("pm", "penalty")


@dataclass
class RewardStats:
    """What the last call saw, for the training curve."""

    attack_replies: int = 0
    attack_pm_mean: float = math.nan
    benign_replies: int = 0
    benign_refusals: int = 0
    benign_pm_mean: float = math.nan
    #: Mean evasion log-odds of the benign replies (NaN without an evasion probe).
    benign_evasion_mean: float = math.nan
    #: Mean reference coverage of the benign replies (NaN without a content term).
    benign_content_mean: float = math.nan
    reasons: list[str] = field(default_factory=list)

    @property
    def benign_refusal_rate(self) -> float:
        return self.benign_refusals / self.benign_replies if self.benign_replies else math.nan


class PMReward:
    """Scores completions with a :class:`~redline.targets.base.Scorer` (the PM), less
    ``refusal_penalty`` where a benign request was refused (by ``detector``).

    The context the PM sees is the red-team conversation only (the attack), as when it
    scores a live target; the defence's few-shot prompt is not part of it. An empty reply
    has no harmlessness: it gets NaN, which RLOO treats as unscorable (no advantage), so
    the policy is neither pushed to nor away from saying nothing on an attack; on a
    benign request saying nothing is the most complete evasion and costs the penalty.
    """

    __name__ = "pm"  # TRL names reward functions by ``__name__`` in its logs

    def __init__(
        self,
        scorer: Scorer,
        *,
        refusal_penalty: float = 0.0,
        detector: Judge | None = None,
        benign_reward: BenignReward = "pm",
        evasion: AttemptProbe | None = None,
        evasion_penalty: float = 0.0,
        content: ReferenceContent | None = None,
        content_weight: float = 0.0,
    ) -> None:
        if benign_reward not in BENIGN_REWARDS:
            raise ValueError(
                f"benign_reward must be one of {BENIGN_REWARDS}, not {benign_reward!r}"
            )
        if refusal_penalty < 0 or evasion_penalty < 0 or content_weight < 0:
            raise ValueError("refusal_penalty, evasion_penalty and content_weight must be >= 0")
        if evasion_penalty > 0 and evasion is None:
            raise ValueError("evasion_penalty needs an evasion probe")
        if content_weight > 0 and content is None:
            raise ValueError("content_weight needs reference answers (content)")
        if detector is None and (refusal_penalty > 0 or benign_reward == "penalty"):
            from redline.judges.refusal import RefusalLexiconJudge

            detector = RefusalLexiconJudge()
        self.scorer = scorer
        self.refusal_penalty = refusal_penalty
        self.detector = detector
        self.benign_reward = benign_reward
        self.evasion = evasion
        self.evasion_penalty = evasion_penalty
        self.content = content
        self.content_weight = content_weight
        self.calls = 0
        self.last = RewardStats()

    def __call__(
        self,
        prompts: Sequence[Any],
        completions: Sequence[Any],
        attack: Sequence[str] | None = None,
        benign: Sequence[bool] | None = None,
        **_: Any,
    ) -> list[float]:
        if attack is None:
            raise ValueError("PMReward needs the dataset's 'attack' column")
        texts = [c if isinstance(c, str) else c[-1]["content"] for c in completions]
        is_benign = [bool(b) for b in benign] if benign is not None else [False] * len(texts)
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
            if is_benign[start] and self.benign_reward == "penalty":
                values = [0.0] * len(group)
            else:
                values = [float(v) for v in self.scorer.score_batch(context, replies)]
            for i, value in zip(group, values, strict=True):
                scores[i] = value if texts[i].strip() else math.nan
            start = end
        self.last = self._penalise(scores, texts, attack, is_benign)
        return scores

    def _penalise(
        self,
        scores: list[float],
        texts: Sequence[str],
        attack: Sequence[str],
        is_benign: Sequence[bool],
    ) -> RewardStats:
        """Add the content reward to benign replies and subtract the penalties from evasive
        and refused ones (in place); the call's stats."""
        stats = RewardStats()
        benign_idx = [i for i, b in enumerate(is_benign) if b]
        attack_idx = [i for i, b in enumerate(is_benign) if not b]
        stats.attack_replies = len(attack_idx)
        stats.attack_pm_mean = _nanmean([scores[i] for i in attack_idx])
        stats.benign_replies = len(benign_idx)
        if self.benign_reward == "pm":
            stats.benign_pm_mean = _nanmean([scores[i] for i in benign_idx])
        if benign_idx and self.evasion is not None:
            odds = self.evasion.log_odds([(attack[i], texts[i].strip()) for i in benign_idx])
            stats.benign_evasion_mean = _nanmean(odds)
            for i, value in zip(benign_idx, odds, strict=True):
                base = 0.0 if math.isnan(scores[i]) else scores[i]
                scores[i] = base - self.evasion_penalty * value
        if benign_idx and self.content is not None:
            shares = self.content.scores([(attack[i], texts[i]) for i in benign_idx])
            stats.benign_content_mean = _nanmean(shares)
            for i, share in zip(benign_idx, shares, strict=True):
                base = 0.0 if math.isnan(scores[i]) else scores[i]
                scores[i] = base + self.content_weight * share
        if not benign_idx or self.detector is None:
            return stats
        verdicts = self.detector.judge(
            [((Message("human", attack[i]),), texts[i]) for i in benign_idx]
        )
        for i, verdict in zip(benign_idx, verdicts, strict=True):
            if verdict.refusal:
                stats.benign_refusals += 1
                stats.reasons.append(str(verdict.raw))
                base = 0.0 if math.isnan(scores[i]) else scores[i]
                scores[i] = base - self.refusal_penalty
        return stats


def _nanmean(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return sum(finite) / len(finite) if finite else math.nan
