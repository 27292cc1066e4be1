"""What a preference model learned from, as tags, and whether two learned from the same.

Why tags with sides: the self-judging check (:mod:`redline.judges.independence`) must know
whether a judging PM saw any pair that a target's ranking PM saw. Two PMs fitted on the two
sides of one seeded split of a pair file share no pair, though both "learned from pairs-a",
so a tag names the side: ``hh-rlhf:pairs-a#train@0/0.2`` is the training side of the split
with seed 0 and 20% validation (``redline.harmlessness.training.split_indices``). A tag
without a side stands for the whole source and overlaps every tag of that source, which is
the safe reading of PM files written before sides were recorded.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

#: The packaged hh-rlhf harmless-base comparison pairs.
PAIRS_A = "hh-rlhf:pairs-a"
#: The packaged counter-bias pairs (helpful answer to an everyday request beats a refusal).
COUNTER_PAIRS = "redline:benign-pairs"
#: The two sides of a seeded split: what a PM is usually fitted on, and what is held out.
TRAIN_SIDE, VALIDATION_SIDE = "train", "validation"


def split_tag(source: str, side: str, seed: int, val_fraction: float) -> str:
    """The tag of one side of a seeded split of ``source`` (the source itself if unsplit)."""
    if val_fraction <= 0:
        return source
    return f"{source}#{side}@{seed}/{val_fraction:g}"


def parse_tag(tag: str) -> tuple[str, str | None, str | None]:
    """(source, side, split) of a tag; side and split are None for a whole source."""
    source, _, rest = tag.partition("#")
    if not rest:
        return source, None, None
    side, _, split = rest.partition("@")
    return source, side, split


def overlaps(a: str, b: str) -> bool:
    """Whether two tags may share data: same source, unless they are opposite sides of
    the same split."""
    source_a, side_a, split_a = parse_tag(a)
    source_b, side_b, split_b = parse_tag(b)
    if source_a != source_b:
        return False
    return not (side_a and side_b and split_a == split_b and side_a != side_b)


def shared_data(a: Iterable[str], b: Iterable[str]) -> list[str]:
    """The tags of ``a`` that overlap some tag of ``b`` (sorted; empty when disjoint)."""
    others = list(b)
    return sorted({tag for tag in a if any(overlaps(tag, other) for other in others)})


def trained_on(training: Mapping[str, Any] | None) -> tuple[str, ...]:
    """The tags a PM file's ``training`` record gives; a file that does not say learned
    from the packaged pairs (every PM Redline trained before tags were recorded did)."""
    tags = (training or {}).get("trained_on")
    return tuple(tags) if tags else (PAIRS_A,)
