"""No self-judging: which scorers shaped a target's replies, and which judges are free.

Why: rejection sampling keeps the replies its PM likes best, and RLHF is trained to
please its PM, so that PM (or any PM trained on the same pairs) scoring those targets
measures its own choices: "rs16 beats plain" is then true by construction. A judge is
independent of a target when it is not one of the target's selectors, shares no training
data with them, and does not run the target's own model (a model judging its own output).
What a PM learned from is read from its file (``training.trained_on``, tags with the side of
a seeded split, :mod:`redline.harmlessness.provenance`); a ranker whose file is not known
here is assumed to share everything with every PM.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources
from pathlib import Path

from redline.harmlessness.provenance import PAIRS_A, shared_data, trained_on
from redline.judges.base import JudgeInfo
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
    for RLHF the PM the packaged adapter was trained against, else any PM (``pm:*``)."""
    if model_type == REJECTION_SAMPLING:
        identity = rs_scorer or "pm:*"
        return [Selector(identity, "ranks its samples with", known_trained_on(identity))]
    if model_type == RLHF:
        identity, tags = (rlhf_pm, None) if rlhf_pm else packaged_rlhf_pm()
        return [Selector(identity, "trained against", tags or known_trained_on(identity))]
    return []


@cache
def known_trained_on(identity: str) -> tuple[str, ...]:
    """What the PM with this identity learned from, when it is a packaged or configured
    PM file; otherwise the packaged pairs (the safe guess: it overlaps every PM of them)."""
    from redline.config import load_settings
    from redline.harmlessness import DEFAULT_PM, HELDOUT_PM

    for path in (load_settings().pm_path, DEFAULT_PM, HELDOUT_PM):
        if path is None or not Path(path).is_file():
            continue
        meta = json.loads(Path(path).read_text())
        if f"pm:{meta.get('identity')}" == identity:  # a scorer's identity (pm_scorer)
            return trained_on(meta.get("training"))
    return (PAIRS_A,)


@cache
def packaged_rlhf_pm() -> tuple[str, tuple[str, ...] | None]:
    """(identity, training tags or None) of the PM the packaged RLHF adapter was trained
    against, from its ``train_meta.json``; ``pm:*`` when there is none."""
    meta_file = resources.files("redline.targets").joinpath("adapters", "train_meta.json")
    if not meta_file.is_file():
        return "pm:*", None
    meta = json.loads(meta_file.read_text())
    tags = meta.get("pm_trained_on")
    return str(meta.get("pm_identity") or "pm:*"), tuple(tags) if tags else None


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
        shared = shared_data(info.trained_on, selector.trained_on) if info is not None else []
        if shared:
            return (
                f"{selector.how} {selector.identity}, trained on the same data "
                f"({', '.join(shared)})"
            )
    if info is not None and target_model and target_model in info.models:
        return "the judge runs the target's own model"
    return None


def pm_selected(model_type: str) -> bool:
    """Whether a PM chose this kind of target's replies (rs) or trained it (rlhf)."""
    return bool(selectors(model_type))
