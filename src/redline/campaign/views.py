"""Plain, read-only views of tasks and attempts, safe to use after the session closed.

They deliberately carry no target: the red teamer must never learn which model they
talk to, so the views the chat pages render cannot leak it by accident.
"""

from __future__ import annotations

from dataclasses import dataclass

from redline.store.models import Attempt, AttemptStatus, Task, Turn


@dataclass(frozen=True)
class CandidateView:
    index: int
    text: str
    picked: bool


@dataclass(frozen=True)
class TurnView:
    id: int
    index: int
    human: str | None
    candidates: tuple[CandidateView, ...]

    @property
    def picked(self) -> CandidateView | None:
        return next((c for c in self.candidates if c.picked), None)

    @classmethod
    def of(cls, turn: Turn) -> TurnView:
        return cls(
            id=turn.id,
            index=turn.index,
            human=turn.human,
            candidates=tuple(
                CandidateView(index=c.index, text=c.text, picked=c.picked)
                for c in sorted(turn.candidates, key=lambda c: c.index)
            ),
        )


@dataclass(frozen=True)
class AttemptView:
    id: int
    task_id: int | None
    person_id: int | None
    status: AttemptStatus
    task_description: str
    rating: float | None
    harmfulness: int | None
    actionability: int | None
    turns: tuple[TurnView, ...]

    @property
    def awaiting_pick(self) -> bool:
        """The last turn's candidates are shown and none is picked yet."""
        return bool(self.turns) and self.turns[-1].picked is None

    @property
    def finished(self) -> bool:
        return self.status is not AttemptStatus.IN_PROGRESS

    @classmethod
    def of(cls, attempt: Attempt) -> AttemptView:
        return cls(
            id=attempt.id,
            task_id=attempt.task_id,
            person_id=attempt.person_id,
            status=attempt.status,
            task_description=attempt.task_description or "",
            rating=attempt.rating,
            harmfulness=attempt.harmfulness,
            actionability=attempt.actionability,
            turns=tuple(TurnView.of(t) for t in sorted(attempt.turns, key=lambda t: t.index)),
        )


@dataclass(frozen=True)
class TaskView:
    id: int
    person_id: int
    size: int
    finished_attempts: int
    current_attempt_id: int | None
    finished: bool
    active_seconds: float

    @property
    def next_position(self) -> int:
        """1-based number of the attempt being worked on or about to start."""
        return min(self.finished_attempts + 1, self.size)

    @classmethod
    def of(cls, task: Task) -> TaskView:
        done = sum(1 for a in task.attempts if a.status is AttemptStatus.FINISHED)
        current = next((a.id for a in task.attempts if a.status is AttemptStatus.IN_PROGRESS), None)
        return cls(
            id=task.id,
            person_id=task.person_id,
            size=task.size,
            finished_attempts=done,
            current_attempt_id=current,
            finished=task.finished_at is not None,
            active_seconds=task.active_seconds,
        )
