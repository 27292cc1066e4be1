"""Which target the next attempt talks to: random, weighted, balanced over time.

Why balanced rather than a plain weighted draw: a campaign is judged by comparisons
between targets, and with a few hundred attempts a plain draw leaves some targets
short. We pick among the targets whose attempt count relative to their weight is the
lowest, breaking ties at random; over time each target gets ``weight / sum(weights)``
of the attempts (e.g. 10x for the target whose comparisons train the PM).
"""

from __future__ import annotations

import random
from collections.abc import Mapping

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from redline.errors import ConfigError
from redline.store.models import Attempt, Origin, Target


def choose_target(
    counts: Mapping[str, int], weights: Mapping[str, float], rng: random.Random
) -> str:
    """The name of the target with the fewest attempts per unit of weight (ties at random)."""
    eligible = {name: w for name, w in weights.items() if w > 0}
    if not eligible:
        raise ConfigError(
            "no target to assign: the campaign has no targets with a positive weight; "
            "list them under [campaign] targets in redline.toml"
        )
    ratios = {name: counts.get(name, 0) / w for name, w in eligible.items()}
    lowest = min(ratios.values())
    tied = sorted(name for name, r in ratios.items() if r <= lowest + 1e-9)
    return rng.choice(tied)


def human_attempt_counts(session: Session) -> dict[str, int]:
    """Attempts by people per target name, over the whole store (all campaigns so far)."""
    rows = session.execute(
        select(Target.name, func.count(Attempt.id))
        .join(Attempt, Attempt.target_id == Target.id)
        .where(Attempt.origin == Origin.HUMAN)
        .group_by(Target.name)
    ).all()
    return {name: int(n) for name, n in rows}
