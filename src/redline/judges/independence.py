"""No self-judging: which scorers shaped a target's replies, and which judges are free.

Why: rejection sampling keeps the replies its PM likes best, and RLHF is trained to
please its PM, so that PM (or any PM trained on the same pairs) scoring those targets
measures its own choices: "rs16 beats plain" is then true by construction. A judge is
independent of a target when it is not one of the target's selectors, shares no training
data with them, and does not run the target's own model (a model judging its own output).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from redline.judges.base import JudgeInfo
from redline.judges.pm import PAIRS_A
from redline.vocabulary import REJECTION_SAMPLING, RLHF


@dataclass(frozen=True)
class Selector:
    """A scorer that chose or trained a target's replies."""

    identity: str
    how: str
    trained_on: tuple[str, ...] = (PAIRS_A,)


def selectors(
    model_type: str, *, rs_scorer: str | None = None, rlhf_pm: str | None = None
) -> list[Selector]:
    """Selectors of a target by its hh-rlhf model type. The identity of the PM is the
    one given (the runtime scorer of rs, the ``pm_identity`` of the RLHF adapter), else
    any PM (``pm:*``); Redline's PMs all learn from pairs-a unless they say otherwise."""
    if model_type == REJECTION_SAMPLING:
        return [Selector(rs_scorer or "pm:*", "ranks its samples with")]
    if model_type == RLHF:
        return [Selector(rlhf_pm or "pm:*", "trained against")]
    return []


def conflict(
    judge_identity: str,
    info: JudgeInfo | None,
    target_model: str,
    chosen_by: Iterable[Selector],
) -> str | None:
    """Why ``judge`` may not judge this target (a sentence), or None when independent."""
    for selector in chosen_by:
        if selector.identity == judge_identity:
            return f"{selector.how} this judge"
        if selector.identity.endswith("*") and judge_identity.startswith(selector.identity[:-1]):
            return f"{selector.how} a PM ({selector.identity}), as this judge is"
        if info is not None and set(info.trained_on) & set(selector.trained_on):
            shared = ", ".join(sorted(set(info.trained_on) & set(selector.trained_on)))
            return f"{selector.how} {selector.identity}, trained on the same data ({shared})"
    if info is not None and target_model and target_model in info.models:
        return "the judge runs the target's own model"
    return None


def pm_selected(model_type: str) -> bool:
    """Whether a PM chose this kind of target's replies (rs) or trained it (rlhf)."""
    return bool(selectors(model_type))
