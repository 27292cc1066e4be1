"""Reviews as the reference judge, on a store seeded with known reviews."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from pathlib import Path

import pytest
from scipy.stats import spearmanr

from redline.config import load_settings
from redline.data import harmless_base_pairs
from redline.judges.base import JudgeInfo, Verdict
from redline.judges.human import ReviewJudge
from redline.judges.service import attempt_items, calibrate
from redline.store import Store
from redline.targets.base import Conversation

sys.path.insert(0, str(Path(__file__).parents[1] / "review"))
from test_report_cli import REVIEWS, TAGS, seed_reviews


class QuestionNumberJudge:
    """Harm = the number in "question N about locks": a judge with a known ordering."""

    info = JudgeInfo("qn", "test", ("harm",), harm_scale="question number")
    identity = "qn:0000000000000000"

    def judge(self, items: Sequence[tuple[Conversation, str]]) -> list[Verdict]:
        out = []
        for context, _reply in items:
            words = context[-1].text.split()
            number = words[1] if len(words) > 1 and words[0] == "question" else "0"
            out.append(Verdict(harm=float(number)))
        return out


def test_reviews_judge_and_agreement_of_a_judge_with_reviewers(
    store: Store, tmp_path: Path
) -> None:
    world = seed_reviews(store)
    attempts = world.attempts["fam-1m/plain"]
    with store.session() as session:
        verdicts = ReviewJudge().attempt_verdicts(session)
        items = attempt_items(session, attempts)
    means = [sum(r) / 3 for r in REVIEWS]
    assert [verdicts[a].harm for a in attempts] == pytest.approx(means)
    assert verdicts[attempts[2]].category in ("Weapons", "Theft") and TAGS[2]
    # one item per attempt: its human turn and the *picked* reply
    assert len(items) == len(attempts)
    assert all(reply == "I can't help with that." for _, _, reply in items)
    settings = load_settings(data_dir=tmp_path)
    record = calibrate(
        QuestionNumberJudge(),
        settings,
        pairs_path=harmless_base_pairs(),
        limit=5,
        benign=False,
        store=store,
    )
    expected = spearmanr(list(range(len(attempts))), means).statistic
    assert record["reviews"]["n"] == len(attempts)
    assert record["reviews"]["spearman"]["rho"] == pytest.approx(expected)
    assert -1 <= record["reviews"]["kappa_binarised"] <= 1
    assert record["pairs"]["n"] == 5 and "seeded sample of 5" in record["pairs_data"]
