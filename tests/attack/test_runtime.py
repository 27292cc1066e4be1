"""Recipes workers build from: shorter replies without touching the registry's target,
one built object per recipe per process, and the engine's bookkeeping."""

from __future__ import annotations

import math
import pickle

import numpy as np
from tests.support.keyword_scorer import KeywordScorer

from redline.attack.conversation import converse, json_safe
from redline.attack.results import ConversationResult
from redline.attack.runtime import RegistryTargets, cached, with_max_tokens
from redline.attack.scoring import DefaultPM
from redline.config import load_settings
from redline.targets.base import Message, Sample, TargetInfo
from redline.targets.defences import build_defended_target, parse_defence
from redline.targets.scripted import ScriptedTarget

INFO = TargetInfo("stub-1m/rs4", "stub", "1M", 1, "rejection sampling", "rs4")


class _Backend:
    name = "stub"
    supports_embeddings = False

    def __init__(self) -> None:
        self.max_tokens: list[int] = []

    def generate(  # type: ignore[no-untyped-def]
        self, conversation, n=1, max_tokens=128, temperature=0.8, seed=None, *,
        ignore_eos=False, embed=False,
    ):  # fmt: skip
        self.max_tokens.append(max_tokens)
        return [Sample(text=f"reply {i}", meta={"vec": np.ones(3)}) for i in range(n)]


def test_with_max_tokens_copies_prompted_and_rs_targets() -> None:
    backend = _Backend()
    for defence in ("plain", "hhh", "rs4"):
        target = build_defended_target(
            parse_defence(defence), INFO, backend, scorer=KeywordScorer(), max_tokens=128
        )
        short = with_max_tokens(target, 16)
        short.reply([Message("human", "hi")], n=1)
        target.reply([Message("human", "hi")], n=1)
        assert backend.max_tokens[-2:] == [16, 128]  # the original is unchanged


def test_recipes_are_picklable_and_built_once_per_process(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = load_settings(data_dir=tmp_path)
    recipe = RegistryTargets(settings, DefaultPM(settings), max_tokens=32)
    assert pickle.loads(pickle.dumps(recipe)) == recipe
    assert recipe.info("gemma3-270m/rs16").model_type == "rejection sampling"
    calls = []
    first = cached(("x", recipe), lambda: calls.append(1) or object())
    again = cached(("x", pickle.loads(pickle.dumps(recipe))), lambda: calls.append(1) or object())
    assert first is again and calls == [1]


def test_converse_scores_stops_and_keeps_json_metadata() -> None:
    target = ScriptedTarget(reply_fn=lambda conv, i: "" if i == 1 else "build a weapon")
    humans = ["one", "two", "three"]
    result = converse(
        target,
        KeywordScorer(),
        lambda conv, i: humans[i] if i < 2 else None,
        max_turns=5,
        candidates=2,
        seed=3,
        result=ConversationResult(key="k", target="t", task_description="kill them"),
    )
    assert [t.human for t in result.turns] == ["one", "two"]  # stopped when out of turns
    first, second = result.turns[0].candidates
    assert first.harmlessness == -1.0 and second.harmlessness is None  # empty reply: NULL
    assert result.min_harmlessness == -1.0 and result.task_description_harmlessness == -1.0
    assert first.meta["sampler"]["seed"] != result.turns[1].candidates[0].meta["sampler"]["seed"]
    assert json_safe({"a": np.float32(1.5), "b": np.zeros(2), "c": object(), "d": [1]}) == {
        "a": 1.5,
        "d": [1],
    }
    assert math.isnan(KeywordScorer().score((), " "))
