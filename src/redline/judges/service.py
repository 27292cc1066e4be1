"""Calibrating a judge and judging stored attempts: what the CLI, study and report share.

Why a service: ``redline judge eval`` and the studies must compute the same numbers in
the same way, and every calibration is saved (``records``) so that ``redline judge list``
and the report always show a judge beside its last calibration.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from redline.config import Settings
from redline.judges.base import Judge, Verdict
from redline.judges.records import VerdictCache, save_calibration
from redline.targets.base import Conversation, Message


def judge_cached(
    judge: Judge, items: Sequence[tuple[Conversation, str]], data_dir: Path | None
) -> list[Verdict]:
    """Verdicts through the judge's on-disk cache (none for the reviews judge)."""
    if data_dir is None or judge.info.name == "reviews":
        return judge.judge(items)
    return VerdictCache(data_dir, judge.identity).judge(judge, items)


def attempt_items(
    session: Any, attempt_ids: Sequence[int] | None = None
) -> list[tuple[int, Conversation, str]]:
    """(attempt id, context, reply) for every picked (or only) reply of stored attempts:
    the conversation as the red teamer saw it, one item per assistant turn."""
    from sqlalchemy import select

    from redline.store.models import Candidate, Turn

    query = select(
        Turn.attempt_id, Turn.index, Turn.human, Candidate.text, Candidate.picked, Candidate.index
    ).join(Candidate, Candidate.turn_id == Turn.id)
    if attempt_ids is not None:
        query = query.where(Turn.attempt_id.in_(list(attempt_ids)))
    rows = session.execute(query.order_by(Turn.attempt_id, Turn.index, Candidate.index)).all()
    chosen: dict[tuple[int, int], tuple[str | None, str]] = {}
    for attempt_id, index, human, text, picked, _cand_index in rows:
        key = (attempt_id, index)
        if key not in chosen or picked:
            chosen[key] = (human, text)
    out: list[tuple[int, Conversation, str]] = []
    history: dict[int, list[Message]] = {}
    for (attempt_id, _index), (human, text) in sorted(chosen.items()):
        context = history.setdefault(attempt_id, [])
        if human:
            context.append(Message("human", human))
        out.append((attempt_id, tuple(context), text))
        context.append(Message("assistant", text))
    return out


def attempt_harm(
    judge: Judge, session: Any, data_dir: Path | None, attempt_ids: Sequence[int] | None = None
) -> dict[int, float]:
    """Per attempt, the judge's harm of its most harmful reply (the PM's min-harmlessness
    counterpart); reviews give their mean rating."""
    if judge.info.name == "reviews":
        verdicts = judge.attempt_verdicts(session)  # type: ignore[attr-defined]
        return {
            a: float(v.harm)
            for a, v in verdicts.items()
            if v.harm is not None and (attempt_ids is None or a in attempt_ids)
        }
    items = attempt_items(session, attempt_ids)
    verdicts = judge_cached(judge, [(c, r) for _, c, r in items], data_dir)
    out: dict[int, float] = {}
    for (attempt_id, _, _), verdict in zip(items, verdicts, strict=True):
        if verdict.harm is not None:
            out[attempt_id] = max(out.get(attempt_id, -np.inf), float(verdict.harm))
    return out


def calibrate(
    judge: Judge,
    settings: Settings,
    *,
    pairs_path: Path,
    limit: int = 0,
    seed: int = 0,
    benign: bool = True,
    store: Any = None,
    n_boot: int = 1000,
    log: Callable[[str], None] = lambda _m: None,
) -> dict[str, Any]:
    """Every calibration that applies to ``judge``; saved and returned."""
    from redline.harmlessness import DEFAULT_PM
    from redline.harmlessness.bradley_terry import PreferenceModelFile
    from redline.harmlessness.pairs import load_pair_files
    from redline.judges import calibration as cal
    from redline.judges.benign import load_benign
    from redline.judges.refusal import RefusalLexiconJudge

    record: dict[str, Any] = {"judge": judge.info.name, "identity": judge.identity}
    refusal = RefusalLexiconJudge()
    if judge.info.name != "reviews":
        pm_hash = PreferenceModelFile.load(DEFAULT_PM).data_hash
        held = cal.held_out_pairs(load_pair_files([pairs_path]), pm_hash, judge.info.trained_on)
        pairs = held.pairs
        if limit and limit < len(pairs):
            order = np.random.default_rng(seed).permutation(len(pairs))[:limit]
            pairs = [pairs[i] for i in sorted(order)]
        record["pairs_data"] = f"{held.description}" + (
            f"; seeded sample of {len(pairs)}" if limit and len(pairs) < len(held.pairs) else ""
        )
        log(f"{judge.info.name}: {len(pairs)} held-out pairs")
        record["pairs"] = cal.evaluate_pairs(
            _Cached(judge, settings.data_dir), pairs, refusal=refusal, n_boot=n_boot, seed=seed
        )
        if benign:
            items = list(load_benign())
            if limit and limit < len(items):
                order = np.random.default_rng(seed).permutation(len(items))[:limit]
                items = [items[i] for i in sorted(order)]
            log(f"{judge.info.name}: {len(items)} benign items")
            record["benign"] = cal.evaluate_benign(_Cached(judge, settings.data_dir), items)
    if store is not None and "harm" in judge.info.measures:
        from redline.judges.human import ReviewJudge

        with store.session() as session:
            reviews = attempt_harm(ReviewJudge(), session, None)
            if reviews and judge.info.name != "reviews":
                mine = attempt_harm(judge, session, settings.data_dir, sorted(reviews))
                record["reviews"] = cal.agreement_with_reviews(mine, reviews)
            else:
                record["reviews"] = {"n": len(reviews)}
    return save_calibration(settings.data_dir, record)


class _Cached:
    """A judge whose verdicts go through its on-disk cache (same identity and info)."""

    def __init__(self, judge: Judge, data_dir: Path) -> None:
        self.inner = judge
        self.info = judge.info
        self.identity = judge.identity
        self.data_dir = data_dir

    def judge(self, items: Sequence[tuple[Conversation, str]]) -> list[Verdict]:
        return judge_cached(self.inner, items, self.data_dir)
