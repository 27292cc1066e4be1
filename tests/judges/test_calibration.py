"""Calibration numbers against independent computations, on judges with known answers."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from importlib import resources

import numpy as np
import pytest
from scipy.stats import spearmanr
from sklearn.metrics import roc_auc_score

from redline.data import harmless_base_pairs
from redline.harmlessness import DEFAULT_PM
from redline.harmlessness.bradley_terry import PreferenceModelFile
from redline.harmlessness.pairs import Pair, load_pair_files
from redline.judges import calibration as cal
from redline.judges.base import JudgeInfo, Verdict
from redline.judges.benign import load_benign
from redline.judges.refusal import RefusalLexiconJudge
from redline.targets.base import Conversation, Message


class LengthJudge:
    """Harm = length of the reply: a judge that rewards brevity (and so refusals)."""

    info = JudgeInfo("length", "test judge", ("harm",), harm_scale="characters")
    identity = "length:0000000000000000"

    def judge(self, items: Sequence[tuple[Conversation, str]]) -> list[Verdict]:
        return [Verdict(harm=float(len(r))) for _, r in items]


CTX = (Message("human", "q"),)


def _pairs() -> list[Pair]:
    # chosen shorter in 1 pair, longer in 2, as long in 1
    return [
        Pair(CTX, "ok", "sure, here is how"),  # (a bare "no" to a request is a refusal)
        Pair(CTX, "I'm sorry, I can't.", "ok fine do it"),
        Pair(CTX, "a longer helpful answer", "bad"),
        Pair(CTX, "abc", "xyz"),
    ]


def test_pairwise_accuracy_auc_and_refusal_split() -> None:
    pairs = _pairs()
    result = cal.evaluate_pairs(LengthJudge(), pairs, refusal=RefusalLexiconJudge(), n_boot=200)
    assert result["n"] == 4 and result["parsed"] == 1.0
    # right, wrong (the refusal is longer), wrong, tie (half)
    assert result["accuracy"]["value"] == pytest.approx((1 + 0 + 0 + 0.5) / 4)
    chosen = [len(p.chosen) for p in pairs]
    rejected = [len(p.rejected) for p in pairs]
    expected = roc_auc_score([0] * 4 + [1] * 4, chosen + rejected)
    assert result["auc"]["value"] == pytest.approx(expected)
    assert result["auc"]["lo"] <= result["auc"]["value"] <= result["auc"]["hi"]
    split = result["by_refusal"]
    assert split["chosen_refuses"]["n"] == 1 and split["chosen_refuses"]["value"] == 0.0
    assert split["neither_refuses"]["n"] == 3
    assert split["rejected_refuses"]["n"] == 0


def test_benign_set_catches_a_judge_that_rewards_refusal() -> None:
    items = list(load_benign())
    # Most refusals are shorter than the helpful answers: the length judge prefers them.
    result = cal.evaluate_benign(LengthJudge(), items)
    helpful = np.array([len(i.helpful) for i in items])
    refusal = np.array([len(i.refusal) for i in items])
    assert result["prefers_helpful"]["value"] == pytest.approx((helpful < refusal).mean())
    assert result["meets_bar"] is False
    detector = cal.evaluate_benign(RefusalLexiconJudge(), items)
    assert detector["refusal_detection"]["n"] == 2 * len(items)
    assert "prefers_helpful" not in detector


def test_agreement_with_reviews() -> None:
    rng = np.random.default_rng(0)
    reviews = {i: float(rng.integers(0, 5)) for i in range(60)}
    judge = {i: r + rng.normal(0, 0.5) for i, r in reviews.items()}
    out = cal.agreement_with_reviews(judge, reviews)
    assert out["n"] == 60
    expected = spearmanr([judge[i] for i in range(60)], [reviews[i] for i in range(60)])
    assert out["spearman"]["rho"] == pytest.approx(expected.statistic)
    assert out["kappa_binarised"] > 0.5
    assert cal.agreement_with_reviews({1: 0.0}, {1: 3.0}) == {"n": 1}


def test_held_out_pairs_are_the_ones_the_packaged_pm_never_saw() -> None:
    pairs = load_pair_files([harmless_base_pairs()])
    model = PreferenceModelFile.load(DEFAULT_PM)
    held = cal.held_out_pairs(pairs, model.data_hash)
    assert len(held.pairs) == model.metrics["validation"]["pairs"] == 319
    assert "held out from the packaged PM" in held.description
    from redline.harmlessness.training import split_indices

    train, val = split_indices(len(pairs.pairs), 0.2, 0)
    assert len(train) == model.metrics["train"]["pairs"] and not set(train) & set(val)
    other = cal.held_out_pairs(pairs, "another-hash")
    assert len(other.pairs) == len(pairs.pairs)


def test_benign_set_is_shipped_with_its_provenance_and_disjoint_from_rlhf() -> None:
    items = load_benign()
    assert len(items) >= 100 and len({i.prompt for i in items}) == len(items)
    assert all(i.prompt.strip() and i.helpful.strip() and i.refusal.strip() for i in items)
    from redline.rlhf import benign_prompts

    assert not {i.prompt for i in items} & set(benign_prompts())
    data = resources.files("redline.judges").joinpath("data")
    digest = hashlib.sha256(data.joinpath("benign.json").read_bytes()).hexdigest()
    assert digest in data.joinpath("PROVENANCE.md").read_text("utf-8")
    assert json.loads(data.joinpath("benign.json").read_text("utf-8"))["items"]
