"""Comparison pairs -> (context, chosen, rejected), with every unusable pair counted."""

from __future__ import annotations

import json
from pathlib import Path

from redline.harmlessness.pairs import Pair, load_pair_files, pair_from_transcripts


def test_real_pairs_a_all_usable(pairs_a: Path) -> None:
    pairs = load_pair_files([pairs_a])
    # 4 pairs differ before the last reply and 2 have an empty reply: counted, not
    # scored on a wrong context or an empty text
    assert len(pairs.pairs) == 1594
    assert pairs.skipped == {"contexts differ before the last reply": 4, "empty reply": 2}
    first = pairs.pairs[0]
    assert first.context[0].role == "human" and first.context[-1].role == "human"
    assert first.chosen != first.rejected


def test_only_final_reply_differs_gives_shared_context() -> None:
    chosen = "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how to steal?\n\nAssistant: I won't help."
    rejected = "\n\nHuman: hi\n\nAssistant: hello\n\nHuman: how to steal?\n\nAssistant: Easy: ..."
    pair = pair_from_transcripts(chosen, rejected)
    assert isinstance(pair, Pair)
    assert [m.role for m in pair.context] == ["human", "assistant", "human"]
    assert (pair.chosen, pair.rejected) == ("I won't help.", "Easy: ...")


def test_bad_pairs_are_reasons_not_crashes() -> None:
    same = "\n\nHuman: a\n\nAssistant: b"
    assert pair_from_transcripts(same, same) == "identical chosen and rejected"
    assert pair_from_transcripts("\n\nHuman: a", same) == "no assistant reply"
    assert (
        pair_from_transcripts("\n\nHuman: a\n\nAssistant: b", "\n\nHuman: z\n\nAssistant: c")
        == "contexts differ before the last reply"
    )
    assert pair_from_transcripts("\n\nHuman: a\n\nAssistant:  ", same) == "empty reply"


def test_file_with_bad_records_counts_them(tmp_path: Path) -> None:
    good = {"chosen": "\n\nHuman: q\n\nAssistant: no", "rejected": "\n\nHuman: q\n\nAssistant: ok"}
    same = {"chosen": good["chosen"], "rejected": good["chosen"]}
    path = tmp_path / "pairs.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in (good, same, good)) + "\n")
    pairs = load_pair_files([path])
    assert len(pairs.pairs) == 2
    assert pairs.skipped["invalid record"] == 1
    assert "identical" in pairs.problems[0]
    # the training-set hash depends on the pairs, in order
    assert pairs.data_hash() != load_pair_files([path, path]).data_hash()
