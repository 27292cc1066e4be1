"""The no-self-judging rule and the verdict cache."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path

from redline.harmlessness import DEFAULT_PM, HELDOUT_PM
from redline.harmlessness.provenance import (
    COUNTER_PAIRS,
    PAIRS_A,
    overlaps,
    shared_data,
    split_tag,
    trained_on,
)
from redline.judges.base import JudgeInfo, Verdict
from redline.judges.independence import Selector, conflict, packaged_rlhf_pm, selectors
from redline.judges.records import VerdictCache, last_calibrations, save_calibration
from redline.targets.base import Conversation, Message

PM = JudgeInfo("pm", "", ("harm",), trained_on=("hh-rlhf:pairs-a",))
HELD_OUT_PM = JudgeInfo("pm2", "", ("harm",), trained_on=("hh-rlhf:other",))
GEMMA = JudgeInfo("llm", "", ("harm",), models=("gemma3-270m",))


def test_a_pm_never_judges_what_it_or_its_training_data_selected() -> None:
    rs = selectors("rejection sampling", rs_scorer="pm:aaaa")
    assert conflict("pm:aaaa", PM, "smollm2-135m", rs) == "ranks its samples with this judge"
    # another PM trained on the same pairs is not independent either
    assert "same data" in str(conflict("pm:bbbb", PM, "smollm2-135m", rs))
    # a PM that declares disjoint data is
    assert conflict("pm:cccc", HELD_OUT_PM, "smollm2-135m", rs) is None
    rlhf = selectors("rlhf", rlhf_pm="pm:*")  # the adapter's PM unknown: any PM
    assert conflict("pm:dddd", None, "", rlhf) == "trained against a PM (pm:*), as this judge is"
    assert conflict("pm:aaaa", PM, "gemma3-270m", selectors("plain lm")) is None


def test_pms_fitted_on_opposite_sides_of_one_split_share_no_data() -> None:
    train, held = split_tag(PAIRS_A, "train", 0, 0.2), split_tag(PAIRS_A, "validation", 0, 0.2)
    assert train == "hh-rlhf:pairs-a#train@0/0.2"
    assert not overlaps(train, held) and overlaps(train, train)
    assert overlaps(PAIRS_A, held)  # a whole source overlaps each of its sides
    assert overlaps(split_tag(PAIRS_A, "train", 1, 0.2), held)  # another split: may share
    assert not overlaps(train, COUNTER_PAIRS) and not overlaps(PAIRS_A, "hh-rlhf:other")
    assert shared_data([train, COUNTER_PAIRS], [held, COUNTER_PAIRS]) == [COUNTER_PAIRS]
    assert trained_on(None) == (PAIRS_A,) and trained_on({"trained_on": [held]}) == (held,)
    ranker = [Selector("pm:aaaa", "ranks its samples with", (train, COUNTER_PAIRS))]
    held_out_judge = JudgeInfo("pm-heldout", "", ("harm",), trained_on=(held,))
    assert conflict("pm:bbbb", held_out_judge, "smollm2-135m", ranker) is None
    old_file = JudgeInfo("pm", "", ("harm",), trained_on=(PAIRS_A,))
    assert "same data (hh-rlhf:pairs-a)" in str(conflict("pm:cccc", old_file, "", ranker))
    # judge and ranker sharing the counter-bias pairs are not independent
    both = JudgeInfo("pm", "", ("harm",), trained_on=(held, COUNTER_PAIRS))
    assert "redline:benign-pairs" in str(conflict("pm:dddd", both, "", ranker))


def test_the_packaged_rlhf_adapter_names_its_pm() -> None:
    identity, _tags = packaged_rlhf_pm()
    assert identity.startswith("pm:") and identity != "pm:*"
    assert selectors("rlhf")[0].identity == identity


def test_the_packaged_held_out_pm_may_judge_what_the_packaged_pm_ranked() -> None:
    """Read from the shipped files (no model loads): the held-out PM was fitted on the
    other side of the packaged PM's split, on another backbone, without the counter pairs."""
    ranker, held = (json.loads(path.read_text()) for path in (DEFAULT_PM, HELDOUT_PM))
    for meta in (ranker, held):  # as a scorer (and so scored_by) names it
        meta["identity"] = f"pm:{meta['identity']}"
    assert held["featurizer"]["backbone"] != ranker["featurizer"]["backbone"]
    assert trained_on(held["training"]) == ("hh-rlhf:pairs-a#validation@0/0.2",)
    assert "hh-rlhf:pairs-a#train@0/0.2" in trained_on(ranker["training"])
    held_info = JudgeInfo("pm-heldout", "", ("harm",), trained_on=trained_on(held["training"]))
    pm_info = JudgeInfo("pm", "", ("harm",), trained_on=trained_on(ranker["training"]))
    rs = selectors("rejection sampling", rs_scorer=ranker["identity"])
    assert conflict(held["identity"], held_info, "smollm2-135m", rs) is None
    assert conflict(ranker["identity"], pm_info, "smollm2-135m", rs) is not None
    # the packaged RLHF adapter was trained against the packaged PM, and says so
    assert packaged_rlhf_pm() == (ranker["identity"], trained_on(ranker["training"]))
    rlhf = selectors("rlhf")
    assert conflict(held["identity"], held_info, "smollm2-135m", rlhf) is None
    assert "trained against this judge" in str(conflict(ranker["identity"], pm_info, "", rlhf))


def test_a_model_never_judges_its_own_replies() -> None:
    assert "own model" in str(conflict("llm:1", GEMMA, "gemma3-270m", []))
    assert conflict("llm:1", GEMMA, "smollm2-135m", selectors("rlhf")) is None


class Counting:
    info = JudgeInfo("count", "", ("refusal",))
    identity = "count:0000000000000000"

    def __init__(self) -> None:
        self.seen = 0

    def judge(self, items: Sequence[tuple[Conversation, str]]) -> list[Verdict]:
        self.seen += len(items)
        return [Verdict(refusal=r.startswith("no")) for _, r in items]


def test_verdicts_are_cached_per_identity(tmp_path: Path) -> None:
    ctx = (Message("human", "q"),)
    judge = Counting()
    cache = VerdictCache(tmp_path, judge.identity)
    first = cache.judge(judge, [(ctx, "no"), (ctx, "yes")])
    again = VerdictCache(tmp_path, judge.identity).judge(judge, [(ctx, "yes"), (ctx, "no way")])
    assert judge.seen == 3  # "yes" came from the file
    assert [v.refusal for v in first + again] == [True, False, False, True]
    other = ((Message("human", "other question"),), "yes")
    VerdictCache(tmp_path, judge.identity).judge(judge, [other])
    assert judge.seen == 4  # the same reply in another context is another item


def test_calibrations_are_kept_and_the_last_one_shown(tmp_path: Path) -> None:
    save_calibration(tmp_path, {"judge": "pm", "identity": "pm:1", "n": 1})
    save_calibration(tmp_path, {"judge": "pm", "identity": "pm:2", "n": 2})
    save_calibration(tmp_path, {"judge": "refusal", "identity": "r:1"})
    last = last_calibrations(tmp_path)
    assert last["pm"]["identity"] == "pm:2" and "at" in last["pm"]
    assert set(last) == {"pm", "refusal"}
