"""The agreement report from the store: what ``redline agreement`` and the admin panel show.

Reads finished reviews and the authors' self-ratings, hands them to the pure functions
of :mod:`redline.review.agreement`, and counts tags from reviews and from attempts that
carry tags (hh-rlhf imports), so both feed one tag table.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, select

from redline.review.agreement import PAPER, RatedItem, agreement, tag_counts, to_rating
from redline.store import Store
from redline.store.models import Attempt, Review


def _order_key(completed: datetime | None, review_id: int) -> tuple[datetime, int]:
    return (completed or datetime.min.replace(tzinfo=UTC), review_id)


def rated_items(store: Store) -> list[RatedItem]:
    """Every attempt with at least one finished (not skipped) review."""
    with store.session() as session:
        rows = session.execute(
            select(Review.id, Review.attempt_id, Review.rating, Review.completed_at).where(
                Review.completed_at.is_not(None),
                Review.skipped.is_(False),
                Review.rating.is_not(None),
            )
        ).all()
        by_attempt: dict[int, list[tuple[tuple[datetime, int], int]]] = defaultdict(list)
        for review_id, attempt_id, rating, completed in rows:
            if rating is not None:
                by_attempt[attempt_id].append((_order_key(completed, review_id), int(rating)))
        authors: dict[int, float | None] = {}
        ids = sorted(by_attempt)
        for start in range(0, len(ids), 5000):  # keep IN lists bounded
            chunk = ids[start : start + 5000]
            authors.update(
                session.execute(
                    select(Attempt.id, Attempt.rating).where(Attempt.id.in_(chunk))
                ).all()
            )
    return [
        RatedItem(
            item_id=attempt_id,
            reviewer_ratings=tuple(r for _, r in sorted(by_attempt[attempt_id])),
            author_rating=to_rating(authors.get(attempt_id)),
        )
        for attempt_id in ids
    ]


def tag_table(store: Store, vocabulary: Sequence[str]) -> list[dict[str, Any]]:
    """Tag counts over finished reviews and over attempts that carry tags (imports)."""
    with store.session() as session:
        review_rows = session.execute(
            select(Review.tags, Review.rating).where(
                Review.tags.is_not(None), Review.skipped.is_(False)
            )
        ).all()
        attempt_rows = session.execute(
            select(Attempt.tags, Attempt.rating).where(Attempt.tags.is_not(None))
        ).all()
    return tag_counts(
        ((tags or [], rating) for tags, rating in review_rows),
        ((tags or [], to_rating(rating)) for tags, rating in attempt_rows),
        vocabulary,
    )


def review_progress(store: Store) -> dict[str, int]:
    """Assigned, open, done and skipped review items."""
    with store.session() as session:
        total = session.scalar(select(func.count()).select_from(Review)) or 0
        done = session.scalar(
            select(func.count()).where(Review.completed_at.is_not(None), Review.skipped.is_(False))
        )
        skipped = session.scalar(select(func.count()).where(Review.skipped.is_(True)))
        attempts = session.scalar(select(func.count(func.distinct(Review.attempt_id))))
    return {
        "assigned": int(total),
        "open": int(total) - int(done or 0) - int(skipped or 0),
        "done": int(done or 0),
        "skipped": int(skipped or 0),
        "attempts": int(attempts or 0),
    }


def agreement_report(
    store: Store,
    vocabulary: Sequence[str],
    *,
    k: int | None = None,
    n_boot: int = 1000,
    seed: int = 0,
) -> dict[str, Any]:
    """Progress, the agreement statistics, the tag table and the paper's values."""
    items = rated_items(store)
    return {
        "progress": review_progress(store),
        "items_with_reviews": len(items),
        "agreement": agreement(items, k=k, n_boot=n_boot, seed=seed),
        "bootstrap": {"replicates": n_boot, "seed": seed},
        "paper": PAPER,
        "tags": tag_table(store, vocabulary),
    }


def review_notes(store: Store, limit: int = 200) -> list[dict[str, Any]]:
    """The reviewers' notes on attempts, newest first, for the admin page.

    Reviewers write notes where a rating and tags do not say enough (a borderline case,
    a broken transcript); admins read them next to the attempt, which the link opens.
    """
    with store.session() as session:
        rows = session.execute(
            select(Review.attempt_id, Review.rating, Review.tags, Review.note, Review.completed_at)
            .where(Review.note.is_not(None), Review.note != "", Review.completed_at.is_not(None))
            .order_by(Review.completed_at.desc(), Review.id.desc())
            .limit(limit)
        ).all()
    return [
        {
            "attempt": attempt_id,
            "rating": rating,
            "tags": list(tags or []),
            "note": note,
            "when": completed.strftime("%Y-%m-%d %H:%M") if completed else "",  # UTC
        }
        for attempt_id, rating, tags, note, completed in rows
    ]
