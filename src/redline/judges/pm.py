"""The harmlessness preference model as a judge (wraps :mod:`redline.harmlessness`).

Why a wrapper and not a new model: the PM is what rejection sampling ranks with and what
RLHF was trained against, so as a judge it must carry the same identity as its
``scored_by`` (``pm:<hash>``) for the self-judging check to recognise it. Its harm score
is the negated harmlessness (higher = more harmful; 0 typical).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from redline.config import Settings
from redline.harmlessness.provenance import trained_on
from redline.judges.base import JudgeInfo, Measure, Verdict
from redline.targets.base import Conversation


class PreferenceModelJudge:
    """Harm = -PM score of the reply in its context."""

    name = "pm"
    description = (
        "packaged harmlessness preference model (what rs16 ranks with; RLHF trained on one)"
    )
    measures: tuple[Measure, ...] = ("harm",)
    summary = "The packaged (or configured) harmlessness preference model"

    def __init__(self, scorer: Any) -> None:
        self.scorer = scorer
        self.identity = str(scorer.identity)
        model = getattr(scorer, "model", None)
        backbone = (getattr(model, "featurizer", None) or {}).get("backbone", "an LM")
        self.info = JudgeInfo(
            name=self.name,
            description=f"{self.summary}: linear Bradley-Terry head on {backbone} reply "
            "hidden states.",
            measures=self.measures,
            harm_scale="negated PM harmlessness (0 typical, higher = more harmful)",
            # No ``models``: the PM reads its backbone's hidden states but generates nothing,
            # so scoring that backbone's replies is not a model judging its own output.
            trained_on=trained_on(getattr(model, "training", None)),
        )

    @classmethod
    def build(
        cls, settings: Settings | None = None, path: str | Path | None = None, **_: object
    ) -> PreferenceModelJudge:
        """The PM at ``path``, else ``REDLINE_PM`` / ``pm_path``, else the packaged one."""
        from redline.config import load_settings
        from redline.harmlessness import PreferenceModelScorer, default_pm_path

        settings = settings or load_settings()
        pm_path = Path(path) if path else default_pm_path(settings)
        features = settings.cache_dir / "features"
        return cls(PreferenceModelScorer.from_file(pm_path, cache_dir=features))

    def judge(self, items: Sequence[tuple[Conversation, str]]) -> list[Verdict]:
        out: list[Verdict | None] = [None] * len(items)
        keep = [i for i, (_, reply) in enumerate(items) if reply.strip()]
        for i in range(len(items)):
            if i not in keep:
                out[i] = Verdict(status="empty", raw="empty reply")
        if keep:
            scores = self.scorer.score_many(
                [items[i][0] for i in keep], [items[i][1] for i in keep]
            )
            for i, score in zip(keep, scores, strict=True):
                value = float(score)
                out[i] = Verdict(harm=None if math.isnan(value) else -value)
        return [v if v is not None else Verdict(status="empty") for v in out]


class HeldOutPreferenceModelJudge(PreferenceModelJudge):
    """The packaged held-out PM: fitted on the seeded 20% of the packaged pairs that the
    packaged PM held out (and on Gemma 3 270M, not SmolLM2), so it shares no training pair
    and no backbone with the PM that rs16 ranks with and RLHF was trained against; the
    independent PM judge of those targets. Weaker (it learned from a fifth of the pairs):
    its calibration (``redline judge eval --judge pm-heldout``) says by how much."""

    name = "pm-heldout"
    description = "held-out preference model (no training pair shared with pm; Gemma 3 270M)"
    summary = "The held-out harmlessness preference model"

    @classmethod
    def build(
        cls, settings: Settings | None = None, path: str | Path | None = None, **_: object
    ) -> PreferenceModelJudge:
        from redline.config import load_settings
        from redline.harmlessness import HELDOUT_PM, PreferenceModelScorer

        settings = settings or load_settings()
        features = settings.cache_dir / "features"
        return cls(PreferenceModelScorer.from_file(Path(path or HELDOUT_PM), cache_dir=features))
