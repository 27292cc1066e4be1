"""Scoring the store: every assistant utterance, per attempt min and mean, task description.

Why this shape: scoring thousands of attempts takes a while on a CPU, so work is written
in batches (one transaction each): an interrupted run keeps every finished batch and the
next run picks up the attempts still unscored. Each score records the PM identity
(``scored_by``) so scores of different models never mix. Empty utterances and attempts
without any reply are skipped and counted, never a crash.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import and_, not_, select
from sqlalchemy.orm import selectinload

from redline.harmlessness.pm_scorer import PreferenceModelScorer
from redline.store import Store
from redline.store.models import Attempt, Candidate, Origin, Turn
from redline.targets.base import Message


@dataclass
class ScoreReport:
    attempts: int = 0
    utterances: int = 0
    task_descriptions: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    scored_by: str = ""


@dataclass
class _AttemptScores:
    attempt_id: int
    candidates: dict[int, float]
    picked: list[float]
    task_description: float | None


def _plan(attempt: Attempt) -> tuple[list[tuple[tuple[Message, ...], Candidate]], Counter[str]]:
    """(context, candidate) for every candidate; context = everything before the turn's
    reply along the conversation that happened (picked replies)."""
    items: list[tuple[tuple[Message, ...], Candidate]] = []
    skipped: Counter[str] = Counter()
    history: list[Message] = []
    for turn in attempt.turns:
        if turn.human is not None:
            history.append(Message("human", turn.human))
        context = tuple(history)
        for candidate in turn.candidates:
            if not candidate.text.strip():
                skipped["empty utterance"] += 1
            else:
                items.append((context, candidate))
        picked = next((c for c in turn.candidates if c.picked), None)
        if picked is not None:
            history.append(Message("assistant", picked.text))
    return items, skipped


def score_attempt(
    scorer: PreferenceModelScorer, attempt: Attempt
) -> tuple[_AttemptScores, Counter[str]]:
    items, skipped = _plan(attempt)
    values = (
        scorer.score_many([c for c, _ in items], [cand.text for _, cand in items])
        if items
        else np.zeros(0)
    )
    by_candidate = {cand.id: float(v) for (_, cand), v in zip(items, values, strict=True)}
    picked = [by_candidate[cand.id] for _, cand in items if cand.picked]
    td = None
    if attempt.task_description and attempt.task_description.strip():
        td = float(scorer.score_many([()], [attempt.task_description])[0])
    return _AttemptScores(attempt.id, by_candidate, picked, td), skipped


def _write(store: Store, results: list[_AttemptScores], scored_by: str) -> None:
    if not results:
        return
    with store.transaction() as session:
        for result in results:
            attempt = session.get(Attempt, result.attempt_id)
            if attempt is None:  # deleted meanwhile
                continue
            for cand_id, value in result.candidates.items():
                candidate = session.get(Candidate, cand_id)
                if candidate is not None:
                    candidate.harmlessness = value
                    candidate.scored_by = scored_by
            if result.picked:
                attempt.min_harmlessness = min(result.picked)
                attempt.mean_harmlessness = float(np.mean(result.picked))
            attempt.task_description_harmlessness = result.task_description
            attempt.scored_by = scored_by


def attempts_to_score(store: Store, *, rescore: bool, pairs: bool = False) -> list[int]:
    """Ids of attempts without a min score (all attempts with ``rescore``).

    Imported records without a target (comparison pairs) only with ``pairs``: every
    analysis reads the scores of red-team attempts, none reads a pair's, and scoring
    1,600 pairs takes most of an hour on a CPU.
    """
    query = select(Attempt.id).order_by(Attempt.id)
    if not rescore:
        query = query.where(Attempt.min_harmlessness.is_(None))
    if not pairs:
        is_pair = and_(Attempt.target_id.is_(None), Attempt.origin == Origin.IMPORTED)
        query = query.where(not_(is_pair))
    with store.session() as session:
        return list(session.scalars(query))


def score_store(
    store: Store,
    scorer: PreferenceModelScorer,
    *,
    rescore: bool = False,
    batch_size: int = 25,
    progress: Callable[[int], None] | None = None,
    attempt_ids: list[int] | None = None,
) -> ScoreReport:
    """Score attempts (unscored ones, or all with ``rescore``), committing every
    ``batch_size`` attempts; on any error the attempts already scored are written first."""
    report = ScoreReport(scored_by=scorer.identity)
    ids = attempt_ids if attempt_ids is not None else attempts_to_score(store, rescore=rescore)
    pending: list[_AttemptScores] = []
    try:
        for start in range(0, len(ids), batch_size):
            chunk = ids[start : start + batch_size]
            with store.session() as session:
                attempts = session.scalars(
                    select(Attempt)
                    .where(Attempt.id.in_(chunk))
                    .options(selectinload(Attempt.turns).selectinload(Turn.candidates))
                    .order_by(Attempt.id)
                ).all()
                for attempt in attempts:
                    result, skipped = score_attempt(scorer, attempt)
                    report.skipped.update(skipped)
                    if not result.picked:
                        report.skipped["attempt without a scored reply"] += 1
                    pending.append(result)
                    report.attempts += 1
                    report.utterances += len(result.candidates)
                    report.task_descriptions += result.task_description is not None
                    if progress:
                        progress(1)
            _write(store, pending, scorer.identity)
            pending = []
    finally:
        _write(store, pending, scorer.identity)
    return report
