"""The no-self-judging rule and the verdict cache."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from redline.judges.base import JudgeInfo, Verdict
from redline.judges.independence import conflict, selectors
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
    rlhf = selectors("rlhf")  # the adapter's PM unknown: any PM
    assert conflict("pm:dddd", None, "", rlhf) == "trained against a PM (pm:*), as this judge is"
    assert conflict("pm:aaaa", PM, "gemma3-270m", selectors("plain lm")) is None


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
