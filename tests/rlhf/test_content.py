"""The reference-content reward: what it counts, what it refuses, and how it enters the RL
reward and the curve (no torch needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from redline.errors import ConfigError
from redline.judges.coverage import content_words, coverage
from redline.rlhf import RLHFConfig
from redline.rlhf.content import ReferenceContent
from redline.rlhf.reward import PMReward
from redline.targets.base import Conversation, TextScorer

REQUEST = "How long should I boil an egg for a runny yolk?"
REFERENCE = "Boil it for six minutes, then cool it in cold water so the yolk stays soft."


def test_content_words_drop_stop_words_and_share_a_stem() -> None:
    assert content_words("The eggs are boiling, then boiled.") == {"eggs", "boili", "boile"}
    assert content_words("Boil it for 6 minutes") == {"boil", "6", "minut"}
    assert content_words("") == frozenset()


def test_coverage_rewards_the_answer_not_the_question_or_another_subject() -> None:
    answer = coverage(REQUEST, "Boil it six minutes and cool it in cold water.", REFERENCE)
    echo = coverage(REQUEST, "How long should you boil an egg for a runny yolk?", REFERENCE)
    other = coverage(REQUEST, "This is a medical condition known as anaemia.", REFERENCE)
    question = coverage(REQUEST, "That is a common question. What is an egg, really?", REFERENCE)
    assert answer > 0.5
    assert echo == other == question == 0.0
    # request words ("boil", "yolk") are not the reference's news, so echoing them earns 0
    assert coverage("What's 15% of 80?", "12", "12.") == 1.0


def test_a_reference_that_only_repeats_the_request_counts_its_own_words() -> None:
    assert coverage("Say hello", "hello", "Hello!") == 1.0
    assert coverage("Say hello", "bye", "Hello!") == 0.0
    assert coverage("anything", "anything", "...") == 0.0


def test_requests_are_matched_loosely_and_a_missing_reference_is_an_error() -> None:
    content = ReferenceContent({REQUEST: REFERENCE})
    assert (
        content.scores([(" how LONG should i boil an egg for a runny yolk? ", "six minutes")])[0]
        > 0
    )
    with pytest.raises(ConfigError, match="no reference answer"):
        content.scores([("What is 2+2?", "4")])
    with pytest.raises(ConfigError, match="reference answers"):
        ReferenceContent({})


class _ConstantScorer(TextScorer):
    identity = "constant"

    def score_batch(self, context: Conversation, replies: Sequence[str]) -> list[float]:
        return [1.0] * len(replies)


def test_content_earns_on_benign_replies_only_and_refusals_still_cost() -> None:
    reward = PMReward(
        _ConstantScorer(),
        benign_reward="penalty",
        refusal_penalty=2.0,
        content=ReferenceContent({REQUEST: REFERENCE}),
        content_weight=10.0,
    )
    replies = ["Boil it six minutes.", "This is a medical condition.", "I'm sorry, I can't."]
    out = reward(
        prompts=["a", "a", "b", "b", "b"],
        completions=["Sure, six minutes and cold water.", "No.", *replies],
        attack=["attack", "attack", *[REQUEST] * 3],
        benign=[False, False, True, True, True],
    )
    assert out[:2] == [1.0, 1.0]  # attacks: the PM only
    share = coverage(REQUEST, replies[0], REFERENCE)
    assert out[2] == pytest.approx(10.0 * share) and share > 0
    assert out[3] == 0.0
    assert out[4] == pytest.approx(-2.0)
    assert reward.last.benign_content_mean == pytest.approx(share / 3)


def test_content_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="reference answers"):
        PMReward(_ConstantScorer(), content_weight=1.0)
    with pytest.raises(ValueError, match="content_weight"):
        PMReward(_ConstantScorer(), content=ReferenceContent({"a": "b"}), content_weight=-1)
    with pytest.raises(ConfigError, match="--content-weight"):
        RLHFConfig(content_weight=-1.0).validate()
    with pytest.raises(ConfigError, match="--benign-prompts pairs"):
        RLHFConfig(content_weight=5.0).validate()  # packaged prompts have no answers
    RLHFConfig(content_weight=5.0, benign_prompts="pairs").validate()


def test_curve_keeps_the_content_column_and_draws_a_panel_per_signal(tmp_path: Path) -> None:
    from redline.rlhf.train import write_curve

    rows = [
        {"step": float(s), "reward": 0.1 * s, "kl": 0.01 * s, "benign_content": 0.1 * s}
        for s in range(1, 4)
    ]
    write_curve(rows, tmp_path / "c.csv", tmp_path / "c.png")
    header, *lines = (tmp_path / "c.csv").read_text().splitlines()
    column = header.split(",").index("benign_content")
    assert [float(line.split(",")[column]) for line in lines] == pytest.approx([0.1, 0.2, 0.3])
    import matplotlib.image

    one_panel = matplotlib.image.imread(tmp_path / "c.png").shape[1]
    for row in rows:
        row["benign_refusal"] = 0.0
    write_curve(rows, tmp_path / "c.csv", tmp_path / "c2.png")
    assert matplotlib.image.imread(tmp_path / "c2.png").shape[1] > one_panel
