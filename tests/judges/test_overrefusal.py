"""Over-refusal on the benign set: counted, intervals, replies kept and recounted."""

from __future__ import annotations

from pathlib import Path

from redline.judges.overrefusal import measure_over_refusal, recorded_over_refusal
from redline.judges.refusal import RefusalLexiconJudge
from redline.targets.base import Conversation
from redline.targets.scripted import ScriptedTarget


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
    again = measure_over_refusal(
        target, RefusalLexiconJudge(opening_chars=5), data_dir=tmp_path, limit=20
    )
    assert target.calls == 20  # another detector recounts the stored replies
    assert again["replies"] == first["replies"] and again["refusals"] < first["refusals"]
    recorded = recorded_over_refusal(tmp_path)
    assert recorded[target.info.name]["detector"] == again["detector"]
    assert len(recorded) == 1  # the recount replaced the record of the same settings
