"""The evasion probe (redline.rlhf.attempt) and its term in the RLHF reward."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pytest

from redline.errors import ConfigError
from redline.rlhf import RLHFConfig
from redline.rlhf.attempt import MAX_LOG_ODDS, AttemptProbe, evasion_log_odds
from redline.rlhf.reward import PMReward
from redline.targets.base import Conversation, Message, Sample, TextScorer


class _ScriptedBackend:
    """Answers the probe's question with fixed top log-probabilities per reply text."""

    name = "scripted"

    def __init__(self, tops: dict[str, dict[str, float]]) -> None:
        self.tops = tops
        self.asked: list[list[Message]] = []

    def generate(self, messages: list[Message], **options: Any) -> list[Sample]:
        assert options["max_tokens"] == 1 and options["top_logprobs"] > 0
        self.asked.append(messages)
        reply = messages[-1].text.split("\nREPLY: ", 1)[1].split("\nDoes the reply", 1)[0]
        top = self.tops.get(reply)
        meta = {} if top is None else {"logprobs": [{"token": "x", "top": top}]}
        return [Sample("x", meta=meta)]


def test_log_odds_read_yes_and_no_in_any_case_and_clip() -> None:
    assert evasion_log_odds({" No": math.log(0.6), "no": math.log(0.2), "Yes": math.log(0.2)}) == (
        pytest.approx(math.log(4.0))
    )
    assert evasion_log_odds({"Maybe": -0.1}) == 0.0
    assert evasion_log_odds({"no": -0.01}) == MAX_LOG_ODDS
    assert evasion_log_odds({" yes": -0.01}) == -MAX_LOG_ODDS
    assert evasion_log_odds({"no": 0.0, "yes": -50.0}) == MAX_LOG_ODDS


def test_probe_asks_about_the_request_and_reply_and_never_asks_about_an_empty_one() -> None:
    backend = _ScriptedBackend(
        {
            "Canberra.": {"yes": math.log(0.9), "no": math.log(0.1)},
            "That is a great question.": {"yes": math.log(0.25), "no": math.log(0.75)},
        }
    )
    probe = AttemptProbe(backend)
    request = "What is the capital of Australia?"
    odds = probe.log_odds([(request, "Canberra."), (request, "That is a great question.")])
    assert odds == pytest.approx([math.log(1 / 9), math.log(3.0)])
    assert probe.log_odds([(request, "   ")]) == [MAX_LOG_ODDS]
    assert len(backend.asked) == 2  # the empty reply cost no model call
    assert f"REQUEST: {request}" in backend.asked[0][-1].text
    assert probe.p_evasion([(request, "Canberra."), (request, "unknown")]) == pytest.approx(
        [0.1, 0.5]  # no log-probabilities back: no information, not a crash
    )
    assert probe.model == "scripted"


class _ConstantScorer(TextScorer):
    identity = "constant"

    def score_batch(self, context: Conversation, replies: Sequence[str]) -> list[float]:
        return [1.0] * len(replies)


def test_evasion_term_costs_benign_replies_by_log_odds_and_leaves_attacks_alone() -> None:
    backend = _ScriptedBackend(
        {
            "Four.": {"yes": math.log(0.8), "no": math.log(0.2)},
            "That is a common question.": {"yes": math.log(0.2), "no": math.log(0.8)},
        }
    )
    reward = PMReward(
        _ConstantScorer(),
        benign_reward="penalty",
        refusal_penalty=2.0,
        evasion=AttemptProbe(backend),
        evasion_penalty=0.5,
    )
    out = reward(
        prompts=["a", "a", "b", "b", "b"],
        completions=["How?", "No.", "Four.", "That is a common question.", "I'm sorry, I can't."],
        attack=["attack", "attack", *["What is 2+2?"] * 3],
        benign=[False, False, True, True, True],
    )
    assert out[:2] == [1.0, 1.0]  # attacks: the PM only, the probe is never asked
    assert out[2] == pytest.approx(-0.5 * math.log(0.25))
    assert out[3] == pytest.approx(-0.5 * math.log(4.0))
    assert out[4] == pytest.approx(-2.0)  # unknown to the probe (0), refused by the lexicon
    assert len(backend.asked) == 3
    assert reward.last.benign_evasion_mean == pytest.approx((math.log(0.25) + math.log(4)) / 3)
    assert reward.last.benign_refusals == 1


def test_evasion_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="evasion probe"):
        PMReward(_ConstantScorer(), evasion_penalty=1.0)
    with pytest.raises(ValueError, match="evasion_penalty"):
        PMReward(_ConstantScorer(), evasion=AttemptProbe(_ScriptedBackend({})), evasion_penalty=-1)
    for change, message in [
        ({"evasion_penalty": 1.0}, "--evasion-model"),
        ({"evasion_penalty": -1.0}, "--evasion-penalty"),
        ({"evasion_model": "smollm2-135m", "evasion_penalty": 1.0}, "model being trained"),
    ]:
        with pytest.raises(ConfigError, match=message):
            RLHFConfig(**change).validate()  # type: ignore[arg-type]


def test_real_gemma_probe_ranks_a_deflection_above_an_answer() -> None:
    """End to end on the packaged Gemma 3 270M: the probe the reward uses runs on a real
    model, returns finite log-odds, and puts an evasion above a plain answer."""
    from redline.config import load_settings
    from redline.rlhf.attempt import load_attempt_probe

    probe = load_attempt_probe("gemma3-270m", load_settings())
    request = "How many legs does a spider have?"
    answer, evasion = probe.log_odds(
        [
            (request, "A spider has eight legs."),
            (request, "That is a common misconception. What is a leg, for example?"),
        ]
    )
    assert math.isfinite(answer) and math.isfinite(evasion)
    assert evasion > answer


def test_curve_keeps_the_evasion_column_and_draws_its_panel(tmp_path: Any) -> None:
    from redline.rlhf.train import write_curve

    rows = [
        {
            "step": float(s),
            "reward": 0.1 * s,
            "kl": 0.01 * s,
            "benign_refusal": 0.0,
            "benign_evasion": -1.0 + 0.1 * s,
        }
        for s in range(1, 4)
    ]
    write_curve(rows, tmp_path / "c.csv", tmp_path / "c.png")
    header, *lines = (tmp_path / "c.csv").read_text().splitlines()
    column = header.split(",").index("benign_evasion")
    assert [float(line.split(",")[column]) for line in lines] == pytest.approx([-0.9, -0.8, -0.7])
    assert (tmp_path / "c.png").stat().st_size > 1000
