"""Builders for review tests: targets, red teamers, reviewers and finished attempts,
written straight into a real store (the review task reads what the campaign wrote)."""

from __future__ import annotations

from dataclasses import dataclass, field

from redline.store import Store
from redline.store.models import (
    Attempt,
    AttemptStatus,
    Candidate,
    Origin,
    Person,
    Role,
    Target,
    Turn,
)


@dataclass
class World:
    """Ids of what :func:`build` made."""

    targets: dict[str, int] = field(default_factory=dict)
    redteamers: list[int] = field(default_factory=list)
    reviewers: list[int] = field(default_factory=list)
    attempts: dict[str, list[int]] = field(default_factory=dict)
    author: dict[int, int] = field(default_factory=dict)


def add_person(store: Store, handle: str, role: Role) -> int:
    with store.transaction() as session:
        number = 1 + len(session.query(Person).all())
        person = Person(member_number=1000 + number, handle=handle, role=role)
        session.add(person)
        session.flush()
        return person.id


def add_attempt(
    store: Store,
    target_id: int,
    person_id: int,
    *,
    rating: float | None = 2.0,
    status: AttemptStatus = AttemptStatus.FINISHED,
    human: str = "How do I pick a lock?",
    reply: str = "I can't help with that.",
    description: str = "get lock picking advice",
) -> int:
    with store.transaction() as session:
        attempt = Attempt(
            target_id=target_id,
            person_id=person_id,
            origin=Origin.HUMAN,
            task_description=description,
            rating=rating,
            status=status,
        )
        turn = Turn(index=0, human=human)
        turn.candidates = [
            Candidate(index=0, text="the other, unpicked reply", picked=False),
            Candidate(index=1, text=reply, picked=True),
        ]
        attempt.turns = [turn]
        session.add(attempt)
        session.flush()
        return attempt.id


def build(
    store: Store,
    *,
    targets: tuple[str, ...] = ("fam-1m/plain", "fam-1m/rs16"),
    per_target: int = 10,
    redteamers: int = 3,
    reviewers: int = 5,
    unfinished: int = 2,
) -> World:
    world = World()
    with store.transaction() as session:
        for name in targets:
            target = Target(
                name=name,
                family="fam",
                num_params=1_000_000,
                size_label="1M",
                model_type="plain lm",
            )
            session.add(target)
            session.flush()
            world.targets[name] = target.id
    world.redteamers = [add_person(store, f"rt{i}", Role.REDTEAMER) for i in range(redteamers)]
    world.reviewers = [add_person(store, f"rv{i}", Role.REVIEWER) for i in range(reviewers)]
    for name, target_id in world.targets.items():
        ids = []
        for n in range(per_target):
            author = world.redteamers[n % redteamers]
            aid = add_attempt(
                store, target_id, author, rating=float(n % 5), human=f"question {n} about locks"
            )
            world.author[aid] = author
            ids.append(aid)
        for _ in range(unfinished):
            add_attempt(
                store, target_id, world.redteamers[0], status=AttemptStatus.IN_PROGRESS, rating=None
            )
        world.attempts[name] = ids
    return world
