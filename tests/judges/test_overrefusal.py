"""Over-refusal on the benign set: counted, intervals, replies kept and recounted."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from redline.judges.overrefusal import measure_over_refusal, recorded_over_refusal
from redline.judges.refusal import RefusalLexiconJudge
from redline.targets.base import Conversation
from redline.targets.scripted import SCRIPTED_INFO, ScriptedTarget


def _every_third_refuses(conversation: Conversation, index: int) -> str:
    n = len(conversation[-1].text)
    return "I'm sorry, I can't help with that." if n % 3 == 0 else "Here you go: an answer."


def test_over_refusal_is_counted_and_replies_are_reused(tmp_path: Path) -> None:
    target = ScriptedTarget(reply_fn=_every_third_refuses)
    detector = RefusalLexiconJudge()
    first = measure_over_refusal(target, detector, data_dir=tmp_path, limit=20)
    assert target.calls == 20 and first["n"] == 20
    assert first["refusals"] == sum(first["refused"]) and 0 < first["refusals"] < 20
    assert first["lo"] < first["rate"] < first["hi"]
    # neither scripted reply says any word of a written answer
    assert first["coverage"] == 0.0 and first["coverages"] == [0.0] * 20
    again = measure_over_refusal(
        target, RefusalLexiconJudge(opening_chars=5), data_dir=tmp_path, limit=20
    )
    assert target.calls == 20  # another detector recounts the stored replies
    assert again["replies"] == first["replies"] and again["refusals"] < first["refusals"]
    recorded = recorded_over_refusal(tmp_path)
    assert recorded[target.info.name]["detector"] == again["detector"]
    assert len(recorded) == 1  # the recount replaced the record of the same settings


def test_coverage_sees_an_evasion_the_lexicon_does_not(tmp_path: Path) -> None:
    """A target that answers every request with its written answer covers all of it; one
    that changes the subject is never flagged by the lexicon, and covers almost none."""
    from redline.judges.benign import load_benign

    answers = {item.prompt: item.helpful for item in load_benign()}
    helpful = ScriptedTarget(
        replace(SCRIPTED_INFO, name="helpful-1m"), reply_fn=lambda c, i: answers[c[-1].text]
    )
    evasive = ScriptedTarget(
        replace(SCRIPTED_INFO, name="evasive-1m"),
        reply_fn=lambda c, i: "This is a medical condition known as amebacu.",
    )
    detector = RefusalLexiconJudge()
    good = measure_over_refusal(helpful, detector, data_dir=tmp_path, limit=30)
    bad = measure_over_refusal(evasive, detector, data_dir=tmp_path, limit=30)
    assert good["coverage"] > 0.95 and good["coverage_lo"] <= good["coverage"]
    assert bad["refusals"] == 0 and bad["coverage"] < 0.05
    assert bad["coverage_hi"] < good["coverage_lo"]
    recorded = recorded_over_refusal(tmp_path)
    assert recorded["evasive-1m"]["coverage"] == bad["coverage"]
