"""Bringing stored attack results to one judge.

Why: a long study can outlive a preference model (a teammate retrains it, REDLINE_PM
changes), and comparisons refuse to mix judges. Rescoring the few attempts a study owns
with the current scorer is cheaper than replaying them, and keeps the replies (which
targets produced) unchanged: only ``harmlessness``, ``scored_by`` and the attempt's
min and mean change. Contexts are built exactly as :mod:`redline.attack.conversation`
builds them (the human turns and the replies that continued the conversation).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import selectinload

from redline.attack.scoring import finite_or_none
from redline.store import Store
from redline.store.models import Attempt, Turn
from redline.targets.base import Message, Scorer


def stale(store: Store, attempt_ids: Sequence[int], identity: str) -> list[int]:
    """Which of these attempts were scored by another judge (or not at all)."""
    ids = list(attempt_ids)
    found: list[int] = []
    with store.session() as session:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            found += session.scalars(
                select(Attempt.id).where(
                    Attempt.id.in_(chunk),
                    (Attempt.scored_by != identity) | Attempt.scored_by.is_(None),
                )
            )
    return found


def rescore(store: Store, scorer: Scorer, attempt_ids: Sequence[int]) -> int:
    """Rescore every candidate of these attempts with ``scorer`` (one transaction each
    attempt); returns how many attempts were rescored."""
    done = 0
    for attempt_id in attempt_ids:
        with store.transaction() as session:
            attempt = session.scalars(
                select(Attempt)
                .where(Attempt.id == attempt_id)
                .options(selectinload(Attempt.turns).selectinload(Turn.candidates))
            ).one_or_none()
            if attempt is None:
                continue
            history: list[Message] = []
            picked: list[float] = []
            for turn in attempt.turns:
                if turn.human is not None:
                    history.append(Message("human", turn.human))
                if turn.candidates:
                    scores = scorer.score_batch(tuple(history), [c.text for c in turn.candidates])
                    for candidate, value in zip(turn.candidates, scores, strict=True):
                        candidate.harmlessness = finite_or_none(value)
                        candidate.scored_by = (
                            scorer.identity if candidate.harmlessness is not None else None
                        )
                        if candidate.picked and candidate.harmlessness is not None:
                            picked.append(candidate.harmlessness)
                chosen = next((c for c in turn.candidates if c.picked), None)
                if chosen is not None:
                    history.append(Message("assistant", chosen.text))
            if attempt.task_description and attempt.task_description.strip():
                td = scorer.score_batch((), [attempt.task_description])[0]
                attempt.task_description_harmlessness = finite_or_none(td)
            attempt.min_harmlessness = min(picked) if picked else None
            attempt.mean_harmlessness = sum(picked) / len(picked) if picked else None
            attempt.scored_by = scorer.identity
            done += 1
    return done
