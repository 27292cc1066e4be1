"""Who reviews what: a random sample of finished attempts per target, each given R
distinct reviewers, never its author, with the load balanced across reviewers.

Assignments are ``Review`` rows with no ``completed_at`` yet. Running the assignment
again never duplicates: attempts that already have review rows stay in the sample, the
sample is topped up to ``per_target`` with new random attempts, and every sampled
attempt is topped up to R reviewers who have not skipped it. So after skips, new
finished attempts or new reviewers, re-running is the repair.
"""

from __future__ import annotations

import random
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from redline.errors import NotFoundError, RedlineError
from redline.store import Store
from redline.store.models import Attempt, AttemptStatus, Person, Review, Role, Target


@dataclass(frozen=True)
class TargetAssignment:
    """What one run did for one target."""

    target: str
    finished: int  # finished attempts of this target
    sampled: int  # attempts in the review sample after this run
    added_attempts: int  # attempts newly drawn into the sample by this run
    added_reviews: int  # review assignments made by this run
    short: int  # reviewer places left empty (too few eligible reviewers)


@dataclass(frozen=True)
class AssignmentReport:
    targets: list[TargetAssignment]
    load: dict[str, int] = field(default_factory=dict)  # reviewer handle -> active reviews

    @property
    def added_reviews(self) -> int:
        return sum(t.added_reviews for t in self.targets)

    @property
    def short(self) -> int:
        return sum(t.short for t in self.targets)


def pick_reviewers(
    eligible: Iterable[int], load: Counter[int], n: int, rng: random.Random
) -> list[int]:
    """The ``n`` least-loaded reviewers among ``eligible``, ties broken at random.

    Greedy least-loaded choice keeps every reviewer within one item of the others when
    nobody is excluded (authors, earlier skips), which is what "balanced" means here.
    """
    ranked = sorted(eligible, key=lambda r: (load[r], rng.random()))
    return ranked[:n]


def _reviewer_pool(session: Session, reviewer_ids: Sequence[int] | None) -> dict[int, str]:
    query = select(Person.id, Person.handle, Person.role).order_by(Person.id)
    if reviewer_ids is None:
        query = query.where(Person.role == Role.REVIEWER)
    else:
        query = query.where(Person.id.in_(list(reviewer_ids)))
    rows = session.execute(query).all()
    if reviewer_ids is not None:
        missing = sorted(set(reviewer_ids) - {r.id for r in rows})
        if missing:
            raise NotFoundError(f"no person with id {missing[0]}")
    return {r.id: r.handle for r in rows}


def target_names(store: Store) -> list[str]:
    """Every stored target's name, sorted: what an admin may restrict an assignment to."""
    with store.session() as session:
        return list(session.scalars(select(Target.name).order_by(Target.name)))


def _targets(session: Session, names: Sequence[str] | None) -> list[Target]:
    rows = list(session.scalars(select(Target).order_by(Target.name)))
    if not names:
        return rows
    by_name = {t.name: t for t in rows}
    unknown = [n for n in names if n not in by_name]
    if unknown:
        raise NotFoundError(f"no target called {unknown[0]!r}; known targets: {sorted(by_name)}")
    return [by_name[n] for n in dict.fromkeys(names)]


def assign_reviews(
    store: Store,
    *,
    per_target: int = 500,
    reviewers: int = 3,
    targets: Sequence[str] | None = None,
    seed: int | None = None,
    reviewer_ids: Sequence[int] | None = None,
) -> AssignmentReport:
    """Sample up to ``per_target`` finished attempts per target and give each ``reviewers``
    distinct reviewers (people with the reviewer role, or ``reviewer_ids``), in one
    transaction. ``seed`` makes the sample and the assignment reproducible."""
    if per_target < 1:
        raise RedlineError("--per-target must be at least 1")
    if reviewers < 1:
        raise RedlineError("--reviewers must be at least 1")
    rng = random.Random(seed)
    try:
        with store.transaction() as session:
            return _assign(session, per_target, reviewers, targets, rng, reviewer_ids)
    except IntegrityError:
        raise RedlineError(
            "another review assignment ran at the same time; run the command again"
        ) from None


def _assign(
    session: Session,
    per_target: int,
    reviewers: int,
    names: Sequence[str] | None,
    rng: random.Random,
    reviewer_ids: Sequence[int] | None,
) -> AssignmentReport:
    pool = _reviewer_pool(session, reviewer_ids)
    if len(pool) < reviewers:
        raise RedlineError(
            f"{reviewers} reviewers per attempt need at least {reviewers} people with the "
            f"reviewer role; there are {len(pool)}. Invite reviewers first (admin > invites)"
        )
    chosen_targets = _targets(session, names)

    assigned: dict[int, set[int]] = defaultdict(set)  # attempt -> every reviewer with a row
    active: Counter[int] = Counter()  # attempt -> reviews not skipped
    load: Counter[int] = Counter({r: 0 for r in pool})  # reviewer -> reviews not skipped
    for attempt_id, reviewer_id, skipped in session.execute(
        select(Review.attempt_id, Review.reviewer_id, Review.skipped)
    ):
        assigned[attempt_id].add(reviewer_id)
        if not skipped:
            active[attempt_id] += 1
            if reviewer_id in load:
                load[reviewer_id] += 1

    report: list[TargetAssignment] = []
    for target in chosen_targets:
        finished = session.execute(
            select(Attempt.id, Attempt.person_id)
            .where(Attempt.target_id == target.id, Attempt.status == AttemptStatus.FINISHED)
            .order_by(Attempt.id)
        ).all()
        author = {a.id: a.person_id for a in finished}
        in_sample = [a.id for a in finished if a.id in assigned]
        fresh = [a.id for a in finished if a.id not in assigned]
        rng.shuffle(fresh)
        drawn = fresh[: max(0, per_target - len(in_sample))]
        added = short = 0
        for attempt_id in in_sample + drawn:
            need = reviewers - active[attempt_id]
            if need <= 0:
                continue
            eligible = [
                r for r in pool if r != author[attempt_id] and r not in assigned[attempt_id]
            ]
            picked = pick_reviewers(eligible, load, need, rng)
            for reviewer_id in picked:
                session.add(Review(attempt_id=attempt_id, reviewer_id=reviewer_id))
                assigned[attempt_id].add(reviewer_id)
                active[attempt_id] += 1
                load[reviewer_id] += 1
            added += len(picked)
            short += need - len(picked)
        report.append(
            TargetAssignment(
                target=target.name,
                finished=len(finished),
                sampled=len(in_sample) + len(drawn),
                added_attempts=len(drawn),
                added_reviews=added,
                short=short,
            )
        )
    session.flush()
    return AssignmentReport(targets=report, load={pool[r]: n for r, n in sorted(load.items())})


def share_open_reviews(session: Session, newcomer: int) -> int:
    """Give a reviewer with an empty queue a fair share of the open reviews already
    assigned to others, within the sample the admin drew; returns how many moved.

    Why: a reviewer invited after the assignment would otherwise see "nothing to review"
    until the admin assigns again, while others hold long queues. The sample and the
    reviewers per attempt stay as the admin set them: open reviews move, none are added.
    Only reviews that are not their holder's next item move (the queue shows the oldest
    one first, so the item a reviewer may be reading stays theirs), to someone who did
    not write the attempt and never had it, from whoever holds the most, until the
    newcomer holds as many as the others' mean.
    """
    rows = session.execute(
        select(Review.id, Review.attempt_id, Review.reviewer_id)
        .where(Review.completed_at.is_(None))
        .order_by(Review.assigned_at, Review.id)
    ).all()
    queues: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for review_id, attempt_id, reviewer_id in rows:
        queues[reviewer_id].append((review_id, attempt_id))
    others = {r: q for r, q in queues.items() if r != newcomer}
    if not others or queues.get(newcomer):
        return 0
    fair = sum(len(q) for q in others.values()) // (len(others) + 1)
    had = set(session.scalars(select(Review.attempt_id).where(Review.reviewer_id == newcomer)))
    authored = set(session.scalars(select(Attempt.id).where(Attempt.person_id == newcomer)))
    moved = 0
    while moved < fair:
        donor = max(others, key=lambda r: len(others[r]))
        movable = [
            (review_id, attempt_id)
            for review_id, attempt_id in others[donor][1:]  # never their next item
            if attempt_id not in had and attempt_id not in authored
        ]
        if len(others[donor]) <= moved + 1 or not movable:
            break
        review_id, attempt_id = movable[-1]  # the newest: the furthest from being read
        taken = session.execute(
            update(Review)
            .where(Review.id == review_id, Review.reviewer_id == donor)
            .where(Review.completed_at.is_(None))
            .values(reviewer_id=newcomer)
            .execution_options(synchronize_session=False)
        )
        others[donor].remove((review_id, attempt_id))
        if taken.rowcount:  # type: ignore[attr-defined]
            had.add(attempt_id)
            moved += 1
    return moved
