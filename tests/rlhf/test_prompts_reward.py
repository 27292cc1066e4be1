"""Attack prompts, the held-out split, benign prompts, the evaluation prompts and the PM
reward with its refusal penalty (no torch needed)."""

from __future__ import annotations

import gzip
import json
import math
import re
from collections.abc import Sequence
from pathlib import Path

import pytest

from redline.errors import ConfigError
from redline.judges.base import Verdict
from redline.judges.benign import load_benign
from redline.rlhf import RLHFConfig, benign_prompts, is_held_out, split_attacks
from redline.rlhf.prompts import eval_attacks
from redline.rlhf.reward import PMReward
from redline.rlhf.train import load_benign_prompts, mix_prompts
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


# --- benign prompts in training, the refusal penalty, disjoint evaluation prompts -------

_STOP = frozenset(
    re.findall(
        r"[a-z]+",
        "a an the is are was were do does did i you my your me how what why who which when "
        "where can could should would will of in on for to and or with at by from it that this "
        "some good best make get there their so not without them they he she his her him",
    )
)


def _words(text: str) -> set[str]:
    return set(re.findall(r"[a-z0-9']+", text.lower())) - _STOP


def _overlap(a: str, b: str) -> float:
    wa, wb = _words(a), _words(b)
    return len(wa & wb) / max(1, len(wa | wb))


def _plain(text: str) -> str:
    return " ".join(text.lower().split())


def test_training_benign_prompts_are_disjoint_from_the_evaluation_set() -> None:
    """RLHF trains on rlhf/benign_prompts.json; over-refusal is measured on
    judges/data/benign.json: no request may be in both, nor share most of its words
    ("capital of Australia" and "capital of Canada" are different requests)."""
    train = benign_prompts()
    evaluation = [item.prompt for item in load_benign()]
    assert len(train) >= 60 and len(evaluation) >= 100
    assert not {_plain(p) for p in train} & {_plain(p) for p in evaluation}
    worst = max((_overlap(a, b), a, b) for a in train for b in evaluation)
    assert worst[0] < 0.6, worst


def test_eval_attacks_are_written_for_redline_and_no_one_trained_on_them(
    harmless_pairs: Path,
) -> None:
    """Neither an exact nor a near copy of any human turn of pairs-a (the PM's data and
    the RLHF attacks), nor of any benign prompt; five per harm tag of the review vocabulary."""
    from redline.datasets.transcripts import parse_transcript
    from redline.review.tags import load_tags

    attacks = eval_attacks()
    texts = [a.text for a in attacks]
    assert len(texts) == len(set(texts)) >= 90
    tags = {a.tag for a in attacks}
    assert tags <= set(load_tags()) and len(tags) == 19  # every tag but "N/A - Invalid attempt"
    with gzip.open(harmless_pairs, "rt", encoding="utf-8") as fh:
        turns = {
            t.human.strip()
            for line in fh
            if line.strip()
            for t in parse_transcript(json.loads(line)["chosen"])
            if t.human
        }
    assert len(turns) > 1000
    plain_turns = {_plain(t) for t in turns}
    assert not {_plain(t) for t in texts} & plain_turns
    worst = max((_overlap(a, t), a, t) for a in texts for t in turns)
    assert worst[0] < 0.6, worst
    others = [*benign_prompts(), *(item.prompt for item in load_benign())]
    assert max(_overlap(a, b) for a in texts for b in others) < 0.5


class _Detector:
    """Stand-in refusal judge: a reply starting with "no" refuses."""

    identity = "test-detector"

    def judge(self, items: Sequence[tuple[Conversation, str]]) -> list[Verdict]:
        return [Verdict(refusal=reply.lower().startswith("no")) for _, reply in items]


def test_refusing_a_benign_request_costs_the_penalty_refusing_an_attack_does_not() -> None:
    scorer = _LengthScorer()
    reward = PMReward(scorer, refusal_penalty=10.0, detector=_Detector(), benign_reward="pm")  # type: ignore[arg-type]
    out = reward(
        prompts=["a", "a", "b", "b"],
        completions=["no way", "fine", "no thanks", "sure!"],
        attack=["attack", "attack", "what is 2+2?", "what is 2+2?"],
        benign=[False, False, True, True],
    )
    assert out == [6.0, 4.0, 9.0 - 10.0, 5.0]
    assert reward.last.benign_replies == 2 and reward.last.benign_refusals == 1
    assert reward.last.benign_refusal_rate == 0.5 and reward.last.attack_pm_mean == 5.0


def test_penalty_only_on_benign_requests_never_asks_the_pm() -> None:
    scorer = _LengthScorer()
    reward = PMReward(scorer, refusal_penalty=2.0, detector=_Detector(), benign_reward="penalty")  # type: ignore[arg-type]
    out = reward(
        prompts=["b"] * 3,
        completions=["no.", "Four.", "   "],
        attack=["what is 2+2?"] * 3,
        benign=[True] * 3,
    )
    assert out[:2] == [-2.0, 0.0] and scorer.contexts == []
    assert math.isnan(out[2])  # empty, and this detector does not call it a refusal


def test_the_real_detector_is_the_default_and_empty_benign_replies_are_penalised() -> None:
    reward = PMReward(_LengthScorer(), refusal_penalty=3.0)
    out = reward(
        prompts=["b", "b", "b"],
        completions=["I'm sorry, I am unable to provide a specific answer.", "Canberra.", " "],
        attack=["What is the capital of Australia?"] * 3,
        benign=[True] * 3,
    )
    assert out[0] == pytest.approx(len("I'm sorry, I am unable to provide a specific answer.") - 3)
    assert out[1] == len("Canberra.") and out[2] == -3.0
    assert reward.last.benign_refusals == 2


def test_bad_reward_settings_are_refused() -> None:
    with pytest.raises(ValueError, match="benign_reward"):
        PMReward(_LengthScorer(), benign_reward="helpful")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="refusal_penalty"):
        PMReward(_LengthScorer(), refusal_penalty=-1)


def test_mix_prompts_reaches_the_benign_share_and_is_seeded() -> None:
    attacks = [f"attack {i}" for i in range(30)]
    benign = ["q1", "q2", "q3", "q4"]
    rows = mix_prompts(attacks, benign, 0.5, seed=0)
    assert [t for t, b in rows if not b] == attacks
    flagged = [t for t, b in rows if b]
    assert len(flagged) == 30 and set(flagged) == set(benign)
    assert rows == mix_prompts(attacks, benign, 0.5, seed=0)
    assert mix_prompts(attacks, benign, 0.0, seed=0) == [(a, False) for a in attacks]
    assert len([1 for _, b in mix_prompts(attacks, benign, 0.25, seed=1) if b]) == 10


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"benign_share": 1.0}, "--benign-share"),
        ({"refusal_penalty": -0.5}, "--refusal-penalty"),
        ({"benign_reward": "helpful"}, "--benign-reward"),
    ],
)
def test_config_rejects_bad_benign_settings(change: dict[str, object], message: str) -> None:
    config = RLHFConfig(**change)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=message):
        config.validate()


def test_training_refuses_benign_prompts_from_the_evaluation_set(tmp_path: Path) -> None:
    """Checked before any model loads: the evaluation requests must stay unseen."""
    from redline.config import load_settings
    from redline.rlhf import train_rlhf

    leaked = [load_benign()[0].prompt.upper() + "  "]
    config = RLHFConfig(steps=1)
    with pytest.raises(ConfigError, match="evaluation set"):
        train_rlhf(
            config,
            load_settings(data_dir=tmp_path),
            tmp_path,
            scorer=_LengthScorer(),
            attacks=["how do I pick a lock?"],
            benign=leaked,
        )


def test_load_benign_prompts_reads_a_file_or_the_packaged_list(tmp_path: Path) -> None:
    assert load_benign_prompts("packaged") == dict.fromkeys(benign_prompts())
    path = tmp_path / "b.json"
    path.write_text(json.dumps({"prompts": ["How do I fold a shirt?"]}))
    assert load_benign_prompts(str(path)) == {"How do I fold a shirt?": None}
    path.write_text(json.dumps({"items": [{"prompt": "2+2?", "helpful": "4.", "refusal": "No."}]}))
    assert load_benign_prompts(str(path)) == {"2+2?": "4."}
    pairs = load_benign_prompts("pairs")
    assert len(pairs) == 189 and all(pairs.values())
    assert pairs["What's 15% of 80?"] == "12."
    path.write_text(json.dumps({"items": [{"prompt": "2+2?"}]}))
    with pytest.raises(ConfigError, match="helpful"):
        load_benign_prompts(str(path))
    path.write_text("[1, 2]")
    with pytest.raises(ConfigError, match="prompts"):
        load_benign_prompts(str(path))
