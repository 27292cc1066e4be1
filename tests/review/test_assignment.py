"""Assignment: a random sample per target, R distinct reviewers, never the author,
balanced load, idempotent top-ups, reproducible with a seed."""

from __future__ import annotations

from collections import Counter
from dataclasses import replace

import pytest
from review_builders import World, add_attempt, add_person, build
from sqlalchemy import select

from redline.errors import NotFoundError, RedlineError
from redline.review import ReviewConfig, ReviewService, assign_reviews
from redline.store import Store
from redline.store.models import Person, Review, Role


def _reviews(store: Store) -> list[Review]:
    with store.session() as session:
        return list(session.scalars(select(Review).order_by(Review.id)))


def test_each_sampled_attempt_gets_distinct_reviewers_never_its_author(
    store: Store, world: World
) -> None:
    report = assign_reviews(store, per_target=6, reviewers=3, seed=1)
    assert [(t.target, t.finished, t.sampled, t.added_reviews) for t in report.targets] == [
        ("fam-1m/plain", 10, 6, 18),
        ("fam-1m/rs16", 10, 6, 18),
    ]
    rows = _reviews(store)
    by_attempt: dict[int, list[int]] = {}
    for r in rows:
        by_attempt.setdefault(r.attempt_id, []).append(r.reviewer_id)
        assert r.completed_at is None and not r.skipped
    finished = {a for ids in world.attempts.values() for a in ids}
    assert set(by_attempt) <= finished  # unfinished attempts are never sampled
    for name, ids in world.attempts.items():
        assert len(set(by_attempt) & set(ids)) == 6, name
    for people in by_attempt.values():
        assert len(people) == len(set(people)) == 3
        assert set(people) <= set(world.reviewers)
    # Load: 36 reviews over 5 reviewers, each within one of the others.
    load = Counter(r.reviewer_id for r in rows)
    assert sum(load.values()) == 36 and max(load.values()) - min(load.values()) <= 1
    assert sorted(report.load.values()) == sorted(load.values())


def test_rerunning_tops_up_and_never_duplicates(store: Store, world: World) -> None:
    first = assign_reviews(store, per_target=4, reviewers=3, seed=2)
    assert first.added_reviews == 24
    again = assign_reviews(store, per_target=4, reviewers=3, seed=99)
    assert again.added_reviews == 0 and [t.added_attempts for t in again.targets] == [0, 0]
    before = {r.attempt_id for r in _reviews(store)}
    more = assign_reviews(store, per_target=7, reviewers=3, seed=3)
    assert [t.added_attempts for t in more.targets] == [3, 3]
    after = {r.attempt_id for r in _reviews(store)}
    assert before < after and len(after) == 14  # the first sample is kept
    # A skip (without immediate reassignment) leaves a hole the next run fills.
    service = ReviewService(store, replace(ReviewConfig.default(), reassign_skipped=False))
    victim = _reviews(store)[0]
    assert service.skip(victim.reviewer_id, victim.id) is None
    fill = assign_reviews(store, per_target=7, reviewers=3)
    assert fill.added_reviews == 1
    active = Counter(r.attempt_id for r in _reviews(store) if not r.skipped)
    assert set(active.values()) == {3}
    skipped_by = {r.reviewer_id for r in _reviews(store) if r.attempt_id == victim.attempt_id}
    assert len(skipped_by) == 4  # the skipper keeps their (skipped) row; a new one joined


def test_the_same_seed_draws_the_same_sample(tmp_path) -> None:
    picks = []
    for run in range(2):
        s = Store(f"sqlite:///{tmp_path / f'seed{run}.db'}")
        build(s)
        assign_reviews(s, per_target=5, reviewers=2, seed=42)
        picks.append([(r.attempt_id, r.reviewer_id) for r in _reviews(s)])
        s.dispose()
    assert picks[0] == picks[1]


def test_authors_who_are_reviewers_never_review_themselves(store: Store) -> None:
    world = build(store, targets=("fam-1m/plain",), per_target=0, reviewers=3)
    target = world.targets["fam-1m/plain"]
    own = [add_attempt(store, target, reviewer) for reviewer in world.reviewers]
    report = assign_reviews(store, per_target=10, reviewers=2, seed=0)
    rows = _reviews(store)
    assert len(rows) == 6 and report.short == 0
    for attempt_id, author in zip(own, world.reviewers, strict=True):
        assert author not in {r.reviewer_id for r in rows if r.attempt_id == attempt_id}
    # With 3 reviewers and 3 wanted per attempt, each attempt has one place nobody can take.
    report = assign_reviews(store, per_target=10, reviewers=3, seed=0)
    assert report.short == 3 and report.added_reviews == 0


def test_targets_filter_and_clear_errors(store: Store, world: World) -> None:
    report = assign_reviews(store, per_target=3, reviewers=2, targets=["fam-1m/rs16"], seed=0)
    assert [t.target for t in report.targets] == ["fam-1m/rs16"]
    assert {r.attempt_id for r in _reviews(store)} <= set(world.attempts["fam-1m/rs16"])
    with pytest.raises(NotFoundError, match="no target called 'nope'"):
        assign_reviews(store, targets=["nope"])
    with pytest.raises(RedlineError, match="at least 6 people with the reviewer role"):
        assign_reviews(store, reviewers=6)
    with pytest.raises(RedlineError, match="--per-target"):
        assign_reviews(store, per_target=0)


def test_many_reviewers_stay_balanced(store: Store) -> None:
    build(store, targets=("a-1m/plain", "b-1m/hhh", "c-1m/rs16"), per_target=40, reviewers=7)
    add_person(store, "not-a-reviewer", Role.ADMIN)
    assign_reviews(store, per_target=35, reviewers=3, seed=5)
    load = Counter(r.reviewer_id for r in _reviews(store))
    assert len(load) == 7 and sum(load.values()) == 315
    assert max(load.values()) - min(load.values()) <= 1


def test_a_reviewer_who_joins_late_gets_a_fair_share_of_the_open_reviews(store: Store) -> None:
    """No "nothing to review" until the admin assigns again: open reviews move from the
    longest queues, never a holder's next item, never one the newcomer wrote or had."""
    world = build(store, targets=("fam-1m/plain",), per_target=9, reviewers=3)
    assign_reviews(store, per_target=9, reviewers=1, seed=3)  # 3 open reviews each
    service = ReviewService(store)
    nexts = {r: service.queue(r).pending[0].review_id for r in world.reviewers}
    before = {(r.attempt_id, r.reviewer_id) for r in _reviews(store)}
    late = add_person(store, "late", Role.REVIEWER)

    queue = service.queue(late)
    assert queue.open_count == 9 // 4 == 2  # the others' mean after sharing: 7 / 3
    after = _reviews(store)
    assert len(after) == len(before) == 9  # moved, none added: the sample is the admin's
    assert len({r.attempt_id for r in after}) == 9
    held = Counter(r.reviewer_id for r in after)
    assert held[late] == 2 and sorted(held[r] for r in world.reviewers) == [2, 2, 3]
    for reviewer, review_id in nexts.items():  # what each was about to read stays theirs
        assert service.queue(reviewer).pending[0].review_id == review_id
    assert service.queue(late).open_count == 2  # a second visit takes nothing more


def test_sharing_never_gives_a_reviewer_their_own_attempt(store: Store) -> None:
    world = build(store, targets=("fam-1m/plain",), per_target=4, redteamers=1, reviewers=1)
    assign_reviews(store, per_target=4, reviewers=1, seed=0)
    author = world.redteamers[0]
    with store.transaction() as session:
        session.get(Person, author).role = Role.REVIEWER  # type: ignore[union-attr]
    assert ReviewService(store).queue(author).open_count == 0
