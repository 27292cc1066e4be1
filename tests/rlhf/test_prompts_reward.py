"""Attack prompts, the held-out split, benign prompts and the PM reward (no torch needed)."""

from __future__ import annotations

import gzip
import json
import math
from collections.abc import Sequence
from pathlib import Path

import pytest

from redline.errors import ConfigError
from redline.rlhf import benign_prompts, is_held_out, split_attacks
from redline.rlhf.reward import PMReward
from redline.targets.base import Conversation, TextScorer


def test_split_on_real_attacks_is_disjoint_stable_and_about_a_fifth(
    harmless_pairs: Path,
) -> None:
    path = harmless_pairs
    split = split_attacks(path)
    assert not set(split.train) & set(split.held_out)
    total = len(split.train) + len(split.held_out)
    assert total > 1000  # 1,600 pairs, most with a distinct opening attack
    assert 0.15 < len(split.held_out) / total < 0.25
    assert split == split_attacks(path)
    assert all(is_held_out(a) for a in split.held_out)
    assert all(len(a) <= 400 and a == a.strip() for a in split.train)


def test_membership_depends_on_text_only(tmp_path: Path) -> None:
    texts = [f"how do I do thing number {i}?" for i in range(200)]
    rows = [{"chosen": f"\n\nHuman: {t}\n\nAssistant: no", "rejected": "x"} for t in texts]
    a, b = tmp_path / "a.jsonl.gz", tmp_path / "b.jsonl"
    with gzip.open(a, "wt") as fh:
        fh.write("\n".join(json.dumps(r) for r in rows))
    b.write_text("\n".join(json.dumps(r) for r in reversed(rows)))
    sa, sb = split_attacks(a), split_attacks(b)
    assert set(sa.held_out) == set(sb.held_out)
    assert 10 < len(sa.held_out) < 70


def test_missing_file_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--prompts"):
        split_attacks(tmp_path / "nope.jsonl.gz")


def test_benign_prompts_are_ordinary_and_distinct() -> None:
    prompts = benign_prompts()
    assert len(prompts) >= 30
    assert len(set(prompts)) == len(prompts)


class _LengthScorer(TextScorer):
    """Stand-in PM: longer replies are 'more harmless'; records the contexts it saw."""

    identity = "length"

    def __init__(self) -> None:
        self.contexts: list[str] = []

    def score_batch(self, context: Conversation, replies: Sequence[str]) -> list[float]:
        self.contexts.append(context[-1].text)
        return [float(len(r)) for r in replies]


def test_reward_scores_each_group_against_its_own_attack() -> None:
    scorer = _LengthScorer()
    reward = PMReward(scorer)
    out = reward(
        prompts=["p1", "p1", "p2", "p2"],
        completions=["ab", "  ", "abcd", "a"],
        attack=["attack one", "attack one", "attack two", "attack two"],
    )
    assert out[0] == 2.0 and math.isnan(out[1]) and out[2:] == [4.0, 1.0]
    assert scorer.contexts == ["attack one", "attack two"]


def test_reward_needs_the_attack_column() -> None:
    with pytest.raises(ValueError, match="attack"):
        PMReward(_LengthScorer())(prompts=["p"], completions=["c"])
