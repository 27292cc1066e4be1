"""The optional well-being survey after every 10 reviews, and its summary for admins.

Reviewers read disturbing text all day; the paper asked them, every 10 reviews, how
they felt (ten PANAS-style feelings, 0-4) plus free text. Declining is recorded as an
empty answer so the survey is not asked again until the next 10 reviews.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from redline.errors import RedlineError
from redline.store import Store
from redline.store.models import Person, Review, WellbeingSurvey

FEELINGS: tuple[str, ...] = (
    "upset",
    "hostile",
    "alert",
    "ashamed",
    "inspired",
    "nervous",
    "determined",
    "attentive",
    "afraid",
    "active",
)
SCALE = (0, 1, 2, 3, 4)
COMMENT_MAX_CHARS = 4000


def reviews_since_survey(session: Session, person_id: int) -> int:
    """Reviews (not skips) this person completed since their last survey (or ever)."""
    last = session.scalar(
        select(WellbeingSurvey.created_at)
        .where(WellbeingSurvey.person_id == person_id)
        .order_by(WellbeingSurvey.created_at.desc(), WellbeingSurvey.id.desc())
        .limit(1)
    )
    done = session.scalars(
        select(Review.completed_at).where(
            Review.reviewer_id == person_id,
            Review.skipped.is_(False),
            Review.completed_at.is_not(None),
        )
    ).all()
    if last is None:
        return len(done)
    cutoff = last
    return sum(1 for moment in done if moment is not None and moment > cutoff)


def survey_due(session: Session, person_id: int, every: int) -> bool:
    return reviews_since_survey(session, person_id) >= every


def clean_answers(answers: Mapping[str, Any]) -> dict[str, int]:
    """Validated feelings: known names, whole numbers 0-4; blanks are left out."""
    cleaned: dict[str, int] = {}
    for name, raw in answers.items():
        if name not in FEELINGS:
            raise RedlineError(f"unknown feeling {name!r}; the survey asks about {FEELINGS}")
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            continue
        try:
            value = int(str(raw).strip())
        except ValueError:
            raise RedlineError(f"'{name}' must be a number from 0 to 4") from None
        if value not in SCALE:
            raise RedlineError(f"'{name}' must be a number from 0 to 4, not {value}")
        cleaned[name] = value
    return cleaned


def record_survey(
    session: Session,
    person_id: int,
    answers: Mapping[str, Any],
    comment: str | None,
    every: int,
) -> bool:
    """Store the answers (empty = declined) if a survey is due; False when it was not due,
    as with a second click on the same form, which therefore writes nothing twice."""
    feelings = clean_answers(answers)
    text = (comment or "").strip()
    if len(text) > COMMENT_MAX_CHARS:
        raise RedlineError(f"the comment is too long (at most {COMMENT_MAX_CHARS} characters)")
    if not survey_due(session, person_id, every):
        return False
    session.add(WellbeingSurvey(person_id=person_id, feelings=feelings, comment=text or None))
    session.flush()
    return True


def wellbeing_summary(store: Store, *, names: bool = False) -> dict[str, Any]:
    """For admins: the mean of each feeling over answered surveys, and the comments.

    Comments come without the reviewer's handle unless the campaign opts in
    (``[review] wellbeing_names = true``): people write more honestly about how the work
    affects them when their manager does not read it under their name.
    """
    with store.session() as session:
        rows = session.execute(
            select(WellbeingSurvey, Person.handle)
            .join(Person, Person.id == WellbeingSurvey.person_id)
            .order_by(WellbeingSurvey.created_at, WellbeingSurvey.id)
        ).all()
    answered = [s for s, _ in rows if s.feelings]
    feelings = []
    for name in FEELINGS:
        values = [s.feelings[name] for s in answered if name in s.feelings]
        feelings.append(
            {
                "feeling": name,
                "mean": round(sum(values) / len(values), 2) if values else None,
                "n": len(values),
            }
        )
    comments = [
        {
            "when": s.created_at.strftime("%Y-%m-%d %H:%M"),
            "handle": handle if names else None,
            "comment": s.comment,
        }
        for s, handle in rows
        if s.comment
    ]
    return {
        "surveys": len(rows),
        "answered": len(answered),
        "declined": len(rows) - len(answered),
        "people": len({s.person_id for s, _ in rows}),
        "feelings": feelings,
        "comments": comments,
    }
