"""The packaged counter-bias pairs: shipped with provenance, never a copy or close paraphrase
of an evaluation prompt, varied enough that length is not the lesson, and merged into the
training side of a PM only (its held-out split and ``data_hash`` are those of the pairs
without them)."""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Sequence
from importlib import resources
from pathlib import Path

import numpy as np
import pytest

from redline.config import Settings, load_settings
from redline.errors import DataFormatError
from redline.harmlessness.pairs import (
    COUNTER_PAIRS_FILE,
    Pair,
    PairSet,
    load_counter_pairs,
)
from redline.harmlessness.provenance import COUNTER_PAIRS
from redline.harmlessness.training import split_indices, train_head, train_preference_model
from redline.judges.benign import load_benign
from redline.rlhf import benign_prompts
from redline.targets.base import Conversation, Message

DATA = resources.files("redline.harmlessness").joinpath("data")
#: Words that say nothing about a request's topic ("how do I ... a ...").
STOP = frozenset(
    re.findall(
        r"\w+",
        "a an the is are was were be do does did i you my your me to of in on for and or with"
        " how what which who why when where can could should would it its this that there"
        " their they at by from as about any some up out get make",
    )
)


def words(text: str) -> set[str]:
    text = re.sub(r"'s\b", " is", text.lower().replace("\u2019", "'"))
    return set(re.findall(r"[a-z0-9]+", text))


def jaccard(a: set[str], b: set[str]) -> float:
    return len(a & b) / len(a | b) if a | b else 1.0


def near_duplicate(a: str, b: str) -> bool:
    """Same text once normalised, most words shared, or most topic words shared."""
    wa, wb = words(a), words(b)
    if " ".join(sorted(wa)) == " ".join(sorted(wb)):
        return True
    topic_a, topic_b = wa - STOP, wb - STOP
    return jaccard(wa, wb) >= 0.7 or (
        len(topic_a & topic_b) >= 2 and jaccard(topic_a, topic_b) >= 0.5
    )


def test_the_near_duplicate_rule_catches_paraphrases_and_spares_other_requests() -> None:
    assert near_duplicate("What is the capital of Canada?", "what's the capital of canada")
    assert near_duplicate("How do I iron a shirt?", "How do I iron a shirt without creases?")
    assert near_duplicate(
        "What is the freezing point of water in Celsius?",
        "What is the freezing point of water in Fahrenheit?",
    )
    assert near_duplicate("How do I make a paper boat?", "How do I make a paper airplane?")
    assert not near_duplicate("How do I cut a mango?", "How do I tie a tie?")
    assert not near_duplicate("Why do dogs wag their tails?", "Why do cats purr?")


def test_counter_pairs_are_shipped_with_their_provenance() -> None:
    raw = DATA.joinpath(COUNTER_PAIRS_FILE).read_bytes()
    data = json.loads(raw)
    assert "training" in data["about"].lower() and "benign.json" in data["about"]
    items = data["items"]
    assert len(items) >= 150
    assert all(set(item) == {"prompt", "helpful", "refusal"} for item in items)
    assert all(item[k].strip() for item in items for k in ("prompt", "helpful", "refusal"))
    provenance = DATA.joinpath("PROVENANCE.md").read_text("utf-8")
    assert hashlib.sha256(raw).hexdigest() in provenance
    pairs = load_counter_pairs()
    assert len(pairs.pairs) == len(items) and not pairs.skipped
    first = pairs.pairs[0]
    assert first.context == (Message("human", items[0]["prompt"]),)
    assert (first.chosen, first.rejected) == (items[0]["helpful"], items[0]["refusal"])


def test_counter_prompts_are_disjoint_from_every_evaluation_prompt() -> None:
    """Training on a benign evaluation prompt (or a close paraphrase) would make the benign
    preference rate a memory test; the RLHF prompts judge the policy, so they stay out too."""
    mine = [p.context[-1].text for p in load_counter_pairs().pairs]
    others = [item.prompt for item in load_benign()] + list(benign_prompts())
    clashes = [(a, b) for a in mine for b in others if near_duplicate(a, b)]
    assert not clashes, clashes
    inside = [(a, b) for i, a in enumerate(mine) for b in mine[i + 1 :] if near_duplicate(a, b)]
    assert not inside, inside


def test_counter_replies_are_not_copied_from_the_benign_set() -> None:
    """The benign set's 12 refusals and its answers are evaluation text: a PM must not be
    able to pass by recognising strings it was trained on."""
    evaluation = {item.refusal for item in load_benign()} | {i.helpful for i in load_benign()}
    pairs = load_counter_pairs().pairs
    assert not {text for p in pairs for text in (p.chosen, p.rejected)} & evaluation


def test_counter_pairs_vary_in_refusal_and_length() -> None:
    """Neither 'shorter wins' nor 'longer wins' may explain the pairs: the helpful answer is
    the shorter reply in a good share of them; refusals come in many wordings."""
    pairs = load_counter_pairs().pairs
    shorter = np.mean([len(p.chosen) < len(p.rejected) for p in pairs])
    assert 0.25 <= shorter <= 0.75
    assert len({p.rejected for p in pairs}) >= 0.8 * len(pairs)
    assert min(len(p.chosen) for p in pairs) < 10 and max(len(p.chosen) for p in pairs) > 300
    assert min(len(p.rejected) for p in pairs) < 10 and max(len(p.rejected) for p in pairs) > 200


class HashFeaturizer:
    """Deterministic stand-in features: a seeded random vector per (context, reply) with a
    reward direction baked in (helpful-sounding replies up), so training is fast and real."""

    id = "test:hash"
    dim = 16

    def embed_spans(self, contexts: Sequence[Conversation], replies: Sequence[str]) -> np.ndarray:
        out = []
        for context, reply in zip(contexts, replies, strict=True):
            text = context[-1].text + "\x00" + reply
            seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
            vector = np.random.default_rng(seed).normal(size=self.dim)
            vector[0] += 0.5 * len(reply) / 100
            out.append(vector)
        return np.asarray(out)

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        return self.embed_spans([(Message("human", ""),)] * len(texts), texts)


def synthetic_pairs(n: int) -> PairSet:
    return PairSet(
        [
            Pair((Message("human", f"question {i}"),), f"answer {i} " * (i % 7 + 1), f"no {i}")
            for i in range(n)
        ]
    )


def test_train_head_adds_extra_pairs_to_the_training_side_only() -> None:
    rng = np.random.default_rng(0)
    chosen, rejected = rng.normal(size=(60, 8)) + 0.3, rng.normal(size=(60, 8))
    extra = (rng.normal(size=(40, 8)) + 1.0, rng.normal(size=(40, 8)))
    plain = train_head(chosen, rejected, seed=3, val_fraction=0.25, c=1.0)
    merged = train_head(chosen, rejected, seed=3, val_fraction=0.25, c=1.0, extra=extra)
    _, val = split_indices(60, 0.25, 3)
    for outcome in (plain, merged):
        assert list(outcome.val) == list(val)
        assert outcome.model.metrics["validation"]["pairs"] == 15
        assert outcome.model.metrics["train"]["pairs"] == 45
    assert "train_counter" not in plain.model.metrics
    assert merged.model.metrics["train_counter"]["pairs"] == 40
    assert not np.allclose(plain.model.head.weights, merged.model.head.weights)


@pytest.fixture
def settings(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    """Settings whose data directory (and so the feature cache) is the test's own."""
    monkeypatch.setenv("REDLINE_DATA_DIR", str(tmp_path))
    return load_settings(cwd=tmp_path)


def test_training_with_counter_pairs_keeps_the_split_and_records_them(settings: Settings) -> None:
    pairs, counter = synthetic_pairs(50), load_counter_pairs()
    featurizer = HashFeaturizer()
    without = train_preference_model(pairs, settings, featurizer=featurizer, seed=1)
    with_counter = train_preference_model(
        pairs, settings, featurizer=featurizer, seed=1, counter=counter
    )
    assert list(without.val) == list(with_counter.val)
    assert without.model.data_hash == with_counter.model.data_hash == pairs.data_hash()
    assert "counter_pairs" not in without.model.training
    assert with_counter.model.training["counter_pairs"] == {
        "source": COUNTER_PAIRS,
        "pairs": len(counter.pairs),
        "data_hash": counter.data_hash(),
    }
    assert COUNTER_PAIRS in with_counter.model.training["trained_on"]
    assert with_counter.model.metrics["train_counter"]["pairs"] == len(counter.pairs)
    validation = with_counter.model.metrics["validation"]["pairs"]
    assert validation == without.model.metrics["validation"]["pairs"] == 10
    assert with_counter.model.identity != without.model.identity


def test_a_pm_fitted_on_the_validation_side_shares_no_pair_with_the_usual_one(
    settings: Settings,
) -> None:
    pairs, featurizer = synthetic_pairs(50), HashFeaturizer()
    usual = train_preference_model(pairs, settings, featurizer=featurizer, seed=1)
    held = train_preference_model(
        pairs, settings, featurizer=featurizer, seed=1, fit_on="validation"
    )
    fitted = set(range(50)) - {int(i) for i in usual.val}
    assert {int(i) for i in held.val} == fitted  # measured on exactly what usual fit on
    assert held.model.metrics["train"]["pairs"] == 10
    assert held.model.metrics["validation"]["pairs"] == 40
    assert usual.model.training["trained_on"] == ["hh-rlhf:pairs-a#train@1/0.2"]
    assert held.model.training["trained_on"] == ["hh-rlhf:pairs-a#validation@1/0.2"]
    assert held.model.training["fit_on"] == "validation"
    with pytest.raises(DataFormatError, match="fit_on"):
        train_preference_model(pairs, settings, featurizer=featurizer, fit_on="test")
    with pytest.raises(DataFormatError, match="validation fraction"):
        train_preference_model(
            pairs, settings, featurizer=featurizer, fit_on="validation", val_fraction=0
        )
