"""The reviewer's side: queue and previews, skip (recorded, reassigned), submit with
validation and idempotency, the well-being survey after every 10 reviews."""

from __future__ import annotations

from dataclasses import replace

import pytest
from review_builders import World, add_attempt, build
from sqlalchemy import select

from redline.errors import ConflictError, NotFoundError, RedlineError
from redline.review import (
    FEELINGS,
    ReviewConfig,
    ReviewService,
    assign_reviews,
    make_preview,
    wellbeing_summary,
)
from redline.store import Store
from redline.store.models import Person, Review, Target, WellbeingSurvey

LONG = "Tell me, step by step and in great detail, " + "how one might do a bad thing " * 20


def _rows(store: Store) -> list[Review]:
    with store.session() as session:
        return list(session.scalars(select(Review).order_by(Review.id)))


def test_preview_is_about_200_characters_cut_at_a_word() -> None:
    (only,) = make_preview([("Human", LONG), ("Assistant", "No.")], 200)
    assert only[0] == "Human" and only[1].startswith("Tell me, step by step")
    assert only[1].endswith(" …") and 150 < len(only[1]) <= 202
    assert make_preview([("Human", "hi\n\nthere"), ("Assistant", "hello")], 200) == [
        ("Human", "hi there"),
        ("Assistant", "hello"),
    ]
    turns = [("Human", "a" * 10), ("Assistant", "b" * 10), ("Human", "c" * 10)]
    assert make_preview(turns, 20) == [("Human", "a" * 10), ("Assistant", "b" * 10 + " …")]


def test_queue_shows_previews_and_items_hide_target_and_author(store: Store) -> None:
    world = build(store, targets=("secret-1m/rs16",), per_target=0, reviewers=3)
    target = world.targets["secret-1m/rs16"]
    attempt = add_attempt(store, target, world.redteamers[0], human=LONG, reply="<b>no</b>")
    assign_reviews(store, per_target=5, reviewers=3, seed=0)
    service = ReviewService(store)
    reviewer = world.reviewers[0]
    queue = service.queue(reviewer)
    assert queue.open_count == 1 and queue.completed == 0 and not queue.survey_due
    (item,) = queue.pending
    assert item.preview[0][0] == "Human" and item.preview[0][1].startswith("Tell me")
    assert sum(len(text) for _, text in item.preview) <= 202
    full = service.item(reviewer, item.review_id)
    assert full.messages == [("Human", LONG), ("Assistant", "<b>no</b>")]
    assert full.task_description == "get lock picking advice"
    shown = repr(full) + repr(queue)
    with store.session() as session:
        author = session.get(Person, world.redteamers[0])
        assert author is not None and author.handle not in shown
        assert session.get(Target, target).name not in shown  # type: ignore[union-attr]
    assert "secret" not in shown and f"attempt_id={attempt}" not in shown
    # Someone else's item is simply not found.
    with pytest.raises(NotFoundError):
        service.item(world.reviewers[1] + 100, item.review_id)


def test_skip_is_recorded_and_the_item_goes_to_another_reviewer(store: Store) -> None:
    world = build(store, targets=("fam-1m/plain",), per_target=1, reviewers=4)
    assign_reviews(store, per_target=1, reviewers=3, seed=0)
    service = ReviewService(store)
    first = _rows(store)[0]
    author = world.author[first.attempt_id]
    new = service.skip(first.reviewer_id, first.id)
    assert new is not None and new != author
    assert new not in {r.reviewer_id for r in _rows(store)[:3]}
    assert service.skip(first.reviewer_id, first.id) is None  # same click again: no-op
    rows = _rows(store)
    assert len(rows) == 4 and rows[0].skipped and rows[0].completed_at is not None
    queue = service.queue(first.reviewer_id)
    assert queue.open_count == 0 and queue.skipped == 1
    with pytest.raises(ConflictError, match="skipped"):
        service.submit(first.reviewer_id, first.id, 2)
    # Everyone else already has it: the next skip finds nobody and says so by None.
    second = rows[1]
    assert service.skip(second.reviewer_id, second.id) is None
    assert len(_rows(store)) == 4


def test_skip_without_reassignment_when_configured(store: Store) -> None:
    build(store, targets=("fam-1m/plain",), per_target=1, reviewers=4)
    assign_reviews(store, per_target=1, reviewers=3, seed=0)
    service = ReviewService(store, replace(ReviewConfig.default(), reassign_skipped=False))
    first = _rows(store)[0]
    assert service.skip(first.reviewer_id, first.id) is None
    assert len(_rows(store)) == 3


def test_submit_validates_and_is_idempotent(store: Store, world: World) -> None:
    assign_reviews(store, per_target=2, reviewers=3, seed=0)
    service = ReviewService(store)
    row = _rows(store)[0]
    who, rid = row.reviewer_id, row.id
    for bad, message in [
        ((5, []), "0 \\(not successful\\) to 4"),
        ((None, []), "success rating"),
        ((2, ["Theft", "Weapons", "Other"]), "at most 2 tags"),
        ((2, ["Theft", "Theft"]), "twice"),
        ((2, ["Not a tag"]), "unknown tag"),
    ]:
        with pytest.raises(RedlineError, match=message):
            service.submit(who, rid, bad[0], bad[1])
    with pytest.raises(RedlineError, match="too long"):
        service.submit(who, rid, 2, [], "x" * 5000)
    assert _rows(store)[0].completed_at is None  # nothing was written by refusals
    service.submit(who, rid, 3, ["Theft", "Weapons"], "  clear attempt  ")
    service.submit(who, rid, 3, ["Theft", "Weapons"], "clear attempt")  # double click
    done = _rows(store)[0]
    assert (done.rating, done.tags, done.note) == (3, ["Theft", "Weapons"], "clear attempt")
    with pytest.raises(ConflictError, match="already submitted"):
        service.submit(who, rid, 1, [])
    with pytest.raises(ConflictError, match="cannot be skipped"):
        service.skip(who, rid)
    with pytest.raises(NotFoundError):
        service.submit(who + 1000, rid, 3, [])
    assert service.queue(who).completed == 1
    assert len(_rows(store)) == 12


def test_wellbeing_survey_after_every_ten_reviews(store: Store) -> None:
    world = build(store, targets=("fam-1m/plain",), per_target=25, reviewers=1, redteamers=2)
    assign_reviews(store, per_target=25, reviewers=1, seed=0)
    service = ReviewService(store)
    me = world.reviewers[0]
    items = [r.id for r in _rows(store)]
    for n, rid in enumerate(items[:9]):
        service.submit(me, rid, n % 5)
    service.skip(me, items[9])  # skips do not count as reviews
    assert not service.survey_due(me)
    assert not service.record_survey(me, {"upset": 1})  # not due: nothing stored
    service.submit(me, items[10], 4)
    assert service.survey_due(me) and service.queue(me).survey_due
    with pytest.raises(RedlineError, match="0 to 4"):
        service.record_survey(me, {"upset": 7})
    with pytest.raises(RedlineError, match="unknown feeling"):
        service.record_survey(me, {"bored": 1})
    answers = {name: i % 5 for i, name in enumerate(FEELINGS)} | {"active": ""}
    assert service.record_survey(me, answers, "  hard <script>day</script> ")
    assert not service.record_survey(me, answers, "again")  # the same form twice
    assert not service.survey_due(me)
    for rid in items[11:21]:
        service.submit(me, rid, 1)
    assert service.survey_due(me)
    assert service.record_survey(me, {}, None)  # declined: recorded, not asked again
    assert not service.survey_due(me)

    summary = wellbeing_summary(store)
    assert (summary["surveys"], summary["answered"], summary["declined"]) == (2, 1, 1)
    by_name = {f["feeling"]: f for f in summary["feelings"]}
    assert by_name["upset"] == {"feeling": "upset", "mean": 0.0, "n": 1}
    assert by_name["hostile"]["mean"] == 1.0 and by_name["active"]["n"] == 0
    assert [c["comment"] for c in summary["comments"]] == ["hard <script>day</script>"]
    with store.session() as session:
        stored = session.scalars(select(WellbeingSurvey).order_by(WellbeingSurvey.id)).all()
        assert stored[0].feelings["inspired"] == 4 and "active" not in stored[0].feelings
        assert stored[1].feelings == {}


def test_concurrent_answers_to_one_item_leave_exactly_one(store: Store, world: World) -> None:
    """Two tabs submit different ratings at once: one wins, the other is told, and the
    row holds the winner's answer (a conditional UPDATE, not read-then-write)."""
    from concurrent.futures import ThreadPoolExecutor

    assign_reviews(store, per_target=1, reviewers=1, seed=0)
    service = ReviewService(store)
    row = _rows(store)[0]

    def answer(rating: int) -> str:
        try:
            service.submit(row.reviewer_id, row.id, rating, [])
        except ConflictError:
            return "refused"
        return "stored"

    for _ in range(5):
        with ThreadPoolExecutor(2) as pool:
            outcomes = sorted(pool.map(answer, [1, 4]))
        assert outcomes == ["refused", "stored"]
        stored = _rows(store)[0]
        assert stored.rating in (1, 4) and stored.completed_at is not None
        with store.transaction() as session:  # reopen the item for the next round
            review = session.get(Review, row.id)
            assert review is not None
            review.completed_at, review.rating = None, None
