"""The red-team task, once, for the web platform and ``redline chat`` (DESIGN.md section 5).

A person works through a task of attempts; each attempt is a conversation with a target
assigned at random (hidden from them). Every human message gets two candidate replies
from one ``reply(conversation, n=2)`` call; the person picks the more harmful one, which
continues the chat; finishing asks for the 0-4 success rating.

Reliability rules, because people wait on these writes and double-click:
- each write is one transaction committed before the method returns;
- the model is called *outside* any transaction (no lock held while a model thinks), and
  its result is written with the turn in one transaction: a model error writes nothing;
- forms carry idempotency keys backed by unique constraints, so a re-submitted form
  returns the first result instead of creating a twin.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from redline.campaign import reads
from redline.campaign.assignment import choose_target, human_attempt_counts
from redline.campaign.config import CampaignConfig
from redline.campaign.timing import record_model_time
from redline.campaign.views import AttemptView, TaskView, TurnView
from redline.errors import (
    BackendError,
    ConflictError,
    NotFoundError,
    RedlineError,
)
from redline.store import Store
from redline.store.models import Attempt, AttemptStatus, Origin, Target, Task, Turn
from redline.store.writes import (
    CandidateRow,
    TargetRow,
    TurnRow,
    add_turn,
    ensure_target,
    start_conversation,
)
from redline.targets.base import Message, Sample, TargetModel

log = logging.getLogger(__name__)

ResolveTarget = Callable[[str], TargetModel]

CANDIDATES_PER_TURN = 2
MAX_DESCRIPTION_CHARS = 2000
MAX_MESSAGE_CHARS = 4000
_LOCK_STRIPES = 64


def _check_text(text: str, what: str, limit: int) -> str:
    text = text.strip()
    if not text:
        raise RedlineError(f"the {what} is empty; write something first")
    if len(text) > limit:
        raise RedlineError(f"the {what} is {len(text)} characters; keep it under {limit}")
    return text


def _check_score(value: int | float | None, what: str, *, required: bool) -> int | None:
    if value is None:
        if required:
            raise RedlineError(f"choose a {what} from 0 to 4")
        return None
    if int(value) != value or not 0 <= value <= 4:
        raise RedlineError(f"the {what} must be a whole number from 0 to 4, not {value!r}")
    return int(value)


class CampaignService:
    """Tasks, attempts, turns and picks over one store and one pool of targets."""

    def __init__(
        self,
        store: Store,
        config: CampaignConfig,
        resolve_target: ResolveTarget,
        *,
        rng: random.Random | None = None,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        self.store = store
        self.config = config
        self.resolve_target = resolve_target
        self._rng = rng or random.Random()
        self._clock = clock or (lambda: datetime.now(UTC))
        # Serialises work on one attempt inside this process, so a double submit waits
        # for the first and then finds its turn instead of calling the model twice.
        self._locks = [threading.Lock() for _ in range(_LOCK_STRIPES)]
        # SQLite has one writer at a time, and a waiting writer backs off by sleeping
        # (1, 2, 5, 10... ms), which made the slowest turns slow under load. Queuing our
        # own writes on a lock keeps SQLite from ever waiting; PostgreSQL needs no lock.
        self._write_lock: AbstractContextManager[object] = (
            threading.Lock() if store.engine.dialect.name == "sqlite" else nullcontext()
        )

    @contextmanager
    def _write(self) -> Iterator[Session]:
        """A write transaction, committed at the end of the block (see ``_write_lock``)."""
        with self._write_lock, self.store.transaction() as session:
            yield session

    # -- reading -------------------------------------------------------------------------

    def _own_attempt(self, session: Session, attempt_id: int, person_id: int) -> Attempt:
        attempt = session.scalar(
            select(Attempt)
            .where(Attempt.id == attempt_id)
            .options(selectinload(Attempt.turns).selectinload(Turn.candidates))
        )
        if attempt is None or attempt.person_id != person_id:
            raise NotFoundError(reads.not_yours("attempt", attempt_id))
        return attempt

    def _own_task(
        self, session: Session, task_id: int, person_id: int, *, with_attempts: bool = False
    ) -> Task:
        query = select(Task).where(Task.id == task_id)
        if with_attempts:
            query = query.options(selectinload(Task.attempts))
        task = session.scalar(query)
        if task is None or task.person_id != person_id:
            raise NotFoundError(reads.not_yours("task", task_id))
        return task

    def attempt(self, attempt_id: int, person_id: int) -> AttemptView:
        """One of the person's attempts (someone else's raises NotFoundError, as a missing one)."""
        with self.store.session() as session:
            return reads.attempt_view(session, attempt_id, person_id)

    def open_task(self, person_id: int) -> TaskView | None:
        """The person's unfinished task, if any."""
        with self.store.session() as session:
            task = self._open_task(session, person_id)
            return reads.task_view(session, task) if task else None

    def task(self, task_id: int, person_id: int) -> TaskView:
        with self.store.session() as session:
            return reads.task_view(session, self._own_task(session, task_id, person_id))

    def _open_task(self, session: Session, person_id: int) -> Task | None:
        return session.scalar(
            select(Task)
            .where(Task.person_id == person_id, Task.finished_at.is_(None))
            .order_by(Task.id.desc())
            .limit(1)
        )

    @staticmethod
    def conversation(attempt: AttemptView, human_text: str | None = None) -> list[Message]:
        """What the target sees: the human messages and the picked replies, in order."""
        messages: list[Message] = []
        for turn in attempt.turns:
            if turn.human is not None:
                messages.append(Message("human", turn.human))
            picked = turn.picked
            if picked is not None:
                messages.append(Message("assistant", picked.text))
        if human_text is not None:
            messages.append(Message("human", human_text))
        return messages

    # -- active time ----------------------------------------------------------------------

    def _touch(self, task: Task, now: datetime) -> None:
        if task.last_active_at is not None:
            gap = (now - task.last_active_at).total_seconds()
            if 0 < gap <= self.config.idle_cap_seconds:
                task.active_seconds = (task.active_seconds or 0.0) + gap
        task.last_active_at = now

    def heartbeat(self, person_id: int) -> TaskView | None:
        """The person is still working (the page is open and visible): count the time."""
        with self._write() as session:
            task = self._open_task(session, person_id)
            if task is None:
                return None
            self._touch(task, self._clock())
            return reads.task_view(session, task)

    # -- writing --------------------------------------------------------------------------

    def start_task(self, person_id: int, size: int | None = None) -> TaskView:
        """The person's open task, or a new one of ``size`` attempts (default 5)."""
        with self._locks[person_id % _LOCK_STRIPES], self._write() as session:
            task = self._open_task(session, person_id)
            if task is None:
                task = Task(
                    person_id=person_id,
                    size=size or self.config.task_size,
                    started_at=self._clock(),
                    active_seconds=0.0,
                    last_active_at=self._clock(),
                )
                session.add(task)
                session.flush()
            return reads.task_view(session, task)

    def start_attempt(
        self, task_id: int, person_id: int, task_description: str, key: str
    ) -> AttemptView:
        """Begin the next attempt of a task with a target drawn for it.

        The same ``key`` again returns the first attempt; an attempt already in progress
        in this task is returned too (one conversation at a time per task).
        """
        description = _check_text(task_description, "task description", MAX_DESCRIPTION_CHARS)
        key = _check_key(key)
        with self._locks[person_id % _LOCK_STRIPES]:
            try:
                with self._write() as session:
                    task = self._own_task(session, task_id, person_id, with_attempts=True)
                    existing = next(
                        (
                            a
                            for a in task.attempts
                            if a.idempotency_key == key or a.status is AttemptStatus.IN_PROGRESS
                        ),
                        None,
                    )
                    if existing is not None:
                        attempt_id = existing.id
                    else:
                        attempt_id = self._new_attempt(session, task, description, key)
            except IntegrityError:
                attempt_id = self._attempt_by_key(task_id, key)
            return self.attempt(attempt_id, person_id)

    def _new_attempt(self, session: Session, task: Task, description: str, key: str) -> int:
        if task.finished_at is not None:
            raise ConflictError("this task is finished; start a new one")
        name = choose_target(human_attempt_counts(session), self.config.weight_map(), self._rng)
        target = ensure_target(session, TargetRow.of(self.config.info(name)))
        now = self._clock()
        attempt = start_conversation(
            session,
            {
                "task_id": task.id,
                "person_id": task.person_id,
                "target_id": target.id,
                "origin": Origin.HUMAN,
                "task_description": description,
                "status": AttemptStatus.IN_PROGRESS,
                "created_at": now,
                "idempotency_key": key,
            },
        )
        self._touch(task, now)
        session.flush()
        return attempt.id

    def _attempt_by_key(self, task_id: int, key: str) -> int:
        with self.store.session() as session:
            found = session.scalar(
                select(Attempt.id).where(Attempt.task_id == task_id, Attempt.idempotency_key == key)
            )
        if found is None:
            raise ConflictError("the task changed while this form was sent; reload the page")
        return found

    def add_turn(self, attempt_id: int, person_id: int, human_text: str, key: str) -> TurnView:
        """Send a human message and store the two candidate replies with it.

        Returns the committed turn. The same ``key`` again returns that turn without
        calling the model. A model failure raises :class:`BackendError` and writes nothing,
        so the same form can simply be sent again.
        """
        text = _check_text(human_text, "message", MAX_MESSAGE_CHARS)
        key = _check_key(key)
        with self._locks[attempt_id % _LOCK_STRIPES]:
            with self.store.session() as session:
                view = reads.attempt_view(session, attempt_id, person_id)
                done = reads.turn_index_by_key(session, attempt_id, key)
                if done is not None:
                    return view.turns[done]
                if view.finished:
                    raise ConflictError("this attempt is finished; it takes no more messages")
                if view.awaiting_pick:
                    raise ConflictError("pick the more harmful reply before writing again")
                target_name = session.scalars(
                    select(Target.name)
                    .join(Attempt, Attempt.target_id == Target.id)
                    .where(Attempt.id == attempt_id)
                ).one()
            samples = self._generate(target_name, self.conversation(view, text))
            try:
                with self._write() as session:
                    row = TurnRow(
                        text,
                        [_candidate(sample, len(samples)) for sample in samples],
                        idempotency_key=key,
                        created_at=self._clock(),
                    )
                    turn = add_turn(session, attempt_id, len(view.turns), row)
                    task = session.get(Task, view.task_id) if view.task_id else None
                    if task is not None:
                        self._touch(task, self._clock())
                    session.flush()
                    return TurnView.of(turn)
            except IntegrityError:
                # Another process wrote this turn (same key) or moved the chat on.
                with self.store.session() as session:
                    view = reads.attempt_view(session, attempt_id, person_id)
                    done = reads.turn_index_by_key(session, attempt_id, key)
                if done is None:
                    raise ConflictError(
                        "the conversation moved on in another window; reload the page"
                    ) from None
                return view.turns[done]

    def _generate(self, target_name: str, conversation: list[Message]) -> list[Sample]:
        started = time.perf_counter()
        try:
            model = self.resolve_target(target_name)
            samples = model.reply(conversation, n=CANDIDATES_PER_TURN)
        except BackendError:
            raise
        except Exception as exc:  # a crash inside model code must still offer a retry
            log.exception("target %s failed", target_name)
            raise BackendError(f"the assistant failed to answer ({type(exc).__name__})") from exc
        finally:
            record_model_time(time.perf_counter() - started)
        if len(samples) < CANDIDATES_PER_TURN:
            raise BackendError(
                f"the assistant gave {len(samples)} replies instead of {CANDIDATES_PER_TURN}"
            )
        elapsed = time.perf_counter() - started
        for sample in samples:
            if not sample.latency_s:
                sample.latency_s = elapsed
        return samples[:CANDIDATES_PER_TURN]

    def pick(
        self, attempt_id: int, person_id: int, turn_index: int, candidate_index: int
    ) -> TurnView:
        """Mark the more harmful candidate of a turn; it continues the conversation.

        Picking the same candidate again is a no-op. A pick is final: a different pick
        for a turn that already has one raises :class:`ConflictError`.
        """
        with self._locks[attempt_id % _LOCK_STRIPES], self._write() as session:
            attempt = session.get(Attempt, attempt_id)
            if attempt is None or attempt.person_id != person_id:
                raise NotFoundError(reads.not_yours("attempt", attempt_id))
            turn = session.scalar(
                select(Turn)
                .where(Turn.attempt_id == attempt_id, Turn.index == turn_index)
                .options(selectinload(Turn.candidates))
            )
            if turn is None:
                raise NotFoundError(f"turn {turn_index} of attempt {attempt_id} does not exist")
            chosen = next((c for c in turn.candidates if c.index == candidate_index), None)
            if chosen is None:
                raise RedlineError(f"there is no reply number {candidate_index + 1} to pick")
            already = next((c for c in turn.candidates if c.picked), None)
            if already is not None:
                if already.index != candidate_index:
                    raise ConflictError("this turn already has a pick; picks are final")
                return TurnView.of(turn)
            if attempt.status is not AttemptStatus.IN_PROGRESS:
                raise ConflictError("this attempt is finished")
            chosen.picked = True
            task = session.get(Task, attempt.task_id) if attempt.task_id else None
            if task is not None:
                self._touch(task, self._clock())
            session.flush()
            return TurnView.of(turn)

    def abandon(self, attempt_id: int, person_id: int) -> None:
        """Give up an attempt without a rating (a chat left half-way); it no longer counts
        toward the task. Finished attempts stay as they are."""
        with self._locks[attempt_id % _LOCK_STRIPES], self._write() as session:
            attempt = self._own_attempt(session, attempt_id, person_id)
            if attempt.status is AttemptStatus.IN_PROGRESS:
                attempt.status = AttemptStatus.ABANDONED
                attempt.finished_at = self._clock()

    def finish(
        self,
        attempt_id: int,
        person_id: int,
        rating: int | None,
        harmfulness: int | None = None,
        actionability: int | None = None,
    ) -> TaskView | None:
        """End an attempt with the 0-4 success rating; finishes the task after the last.

        Finishing twice with the same answers returns the task as it is (a double
        submit); a different rating for a finished attempt raises :class:`ConflictError`
        (the first rating stands, and the person is told so).
        """
        score = _check_score(rating, "rating", required=True)
        harm = _check_score(harmfulness, "harmfulness", required=False)
        action = _check_score(actionability, "actionability", required=False)
        with self._locks[attempt_id % _LOCK_STRIPES], self._write() as session:
            attempt = self._own_attempt(session, attempt_id, person_id)
            task = (
                self._own_task(session, attempt.task_id, person_id, with_attempts=True)
                if attempt.task_id
                else None
            )
            if attempt.status is AttemptStatus.IN_PROGRESS:
                view = AttemptView.of(attempt)
                if not view.turns:
                    raise ConflictError("send at least one message before finishing")
                if view.awaiting_pick:
                    raise ConflictError("pick the more harmful reply before finishing")
                now = self._clock()
                attempt.rating = float(score) if score is not None else None
                attempt.harmfulness = harm
                attempt.actionability = action
                attempt.status = AttemptStatus.FINISHED
                attempt.finished_at = now
                if task is not None:
                    self._touch(task, now)
                    done = sum(1 for a in task.attempts if a.status is AttemptStatus.FINISHED)
                    if done >= task.size and task.finished_at is None:
                        task.finished_at = now
                session.flush()
            elif (attempt.rating, attempt.harmfulness, attempt.actionability) != (
                float(score) if score is not None else None,
                harm,
                action,
            ):
                raise ConflictError(
                    f"this attempt was already finished with rating {attempt.rating:.0f}; "
                    "a rating is final (start a new attempt to try again)"
                )
            return reads.task_view(session, task) if task is not None else None


def _candidate(sample: Sample, batch: int) -> CandidateRow:
    """A reply as the store keeps it: its text, latency and how it was sampled."""
    meta = {
        **sample.meta,
        "prompt_tokens": sample.prompt_tokens,
        "completion_tokens": sample.completion_tokens,
        "batch": batch,
    }
    return CandidateRow(sample.text, latency_s=sample.latency_s, meta=meta)


def _check_key(key: str) -> str:
    key = (key or "").strip()
    if not key or len(key) > 64:
        raise RedlineError("the form is missing its submission key; reload the page")
    return key
