"""Human attacks to replay: from the store, or from an hh-rlhf file (imported first).

Why import before replay: a replayed attempt links to its source (``source_attempt_id``),
so the source must be a row. ``import_file`` is idempotent, so replaying the same file
again finds the rows it made the first time (matched by their content hash).
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select

from redline.datasets import import_file, read_file
from redline.errors import ConfigError, NotFoundError
from redline.store import Store
from redline.store.models import Attempt, Origin, Turn

_CHUNK = 500
#: Store attempts that hold human attacks (people on the platform, imported data).
HUMAN_ORIGINS = (Origin.HUMAN, Origin.IMPORTED)


@dataclass(frozen=True)
class SourceAttack:
    """A stored attempt's human turns, in order (turns without a human message dropped)."""

    attempt_id: int
    humans: tuple[str, ...]
    task_description: str | None = None


def load_attacks(store: Store, attempt_ids: Sequence[int]) -> list[SourceAttack]:
    """The human turns of these attempts, in the order given; attempts without any
    human message are left out (nothing to replay)."""
    humans: dict[int, list[str]] = {i: [] for i in attempt_ids}
    descriptions: dict[int, str | None] = {}
    ids = list(humans)
    with store.session() as session:
        for start in range(0, len(ids), _CHUNK):
            chunk = ids[start : start + _CHUNK]
            rows = session.execute(
                select(Turn.attempt_id, Turn.human)
                .where(Turn.attempt_id.in_(chunk), Turn.human.is_not(None))
                .order_by(Turn.attempt_id, Turn.index)
            )
            for attempt_id, human in rows:
                if human is not None and human.strip():
                    humans[attempt_id].append(human)
            described = session.execute(
                select(Attempt.id, Attempt.task_description).where(Attempt.id.in_(chunk))
            )
            descriptions.update((i, d) for i, d in described)
    return [
        SourceAttack(i, tuple(humans[i]), descriptions.get(i)) for i in attempt_ids if humans[i]
    ]


def _take(ids: list[int], limit: int | None, sample_seed: int | None) -> list[int]:
    if sample_seed is not None:
        ids = random.Random(sample_seed).sample(ids, min(len(ids), limit or len(ids)))
    return ids[:limit] if limit is not None else ids


def attacks_from_store(
    store: Store,
    *,
    origins: Sequence[Origin] = HUMAN_ORIGINS,
    limit: int | None = None,
    sample_seed: int | None = None,
) -> list[SourceAttack]:
    """Stored human attacks by id (or a seeded random sample), at most ``limit``."""
    with store.session() as session:
        ids = list(
            session.scalars(
                select(Attempt.id).where(Attempt.origin.in_(list(origins))).order_by(Attempt.id)
            )
        )
    if not ids:
        names = ", ".join(o.value for o in origins)
        raise NotFoundError(
            f"the store holds no attempts of origin {names}; import some with `redline import`"
        )
    return load_attacks(store, _take(ids, limit, sample_seed))


def import_attacks(
    store: Store,
    path: str | Path,
    *,
    limit: int | None = None,
    sample_seed: int | None = None,
) -> list[SourceAttack]:
    """Import an hh-rlhf file (red-team attempts or comparisons; idempotent) and return
    its attacks in file order (or a seeded sample), each linked to its stored row."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path} does not exist; give an hh-rlhf file or 'store'")
    records = read_file(path).records
    import_file(store, path)
    hashes = list(dict.fromkeys(r.content_hash for r in records))
    found: dict[str, int] = {}
    with store.session() as session:
        for start in range(0, len(hashes), _CHUNK):
            chunk = hashes[start : start + _CHUNK]
            rows = session.execute(
                select(Attempt.content_hash, Attempt.id).where(Attempt.content_hash.in_(chunk))
            )
            found.update((h, i) for h, i in rows if h is not None)
    ids = [found[h] for h in hashes if h in found]
    return load_attacks(store, _take(ids, limit, sample_seed))


def first_turn_sample(attacks: Sequence[SourceAttack], n: int, seed: int) -> list[SourceAttack]:
    """A seeded sample of ``n`` attacks with distinct first human turns, cut to that turn.

    Comparison files hold several pairs per conversation opener; sampling distinct
    openers keeps one attack from counting twice. Samples of one seed are nested.
    """
    unique: dict[str, SourceAttack] = {}
    for attack in attacks:
        opener = attack.humans[0].strip()
        unique.setdefault(opener, SourceAttack(attack.attempt_id, attack.humans[:1], None))
    pool = list(unique.values())
    if n > len(pool):
        raise ConfigError(f"asked for {n} attacks but the file has {len(pool)} distinct openers")
    # A seeded shuffle, then the first n: a smaller study is a prefix of a larger one,
    # so a pilot run's replays are reused by the full run.
    random.Random(seed).shuffle(pool)
    return pool[:n]


def parse_origins(text: str) -> tuple[Origin, ...]:
    """``human``, ``imported`` or ``human,imported`` -> origins; a clear error otherwise."""
    try:
        return tuple(Origin(part.strip()) for part in text.split(",") if part.strip())
    except ValueError as exc:
        raise ConfigError(
            f"unknown origin in {text!r}; use {', '.join(o.value for o in Origin)}"
        ) from exc
