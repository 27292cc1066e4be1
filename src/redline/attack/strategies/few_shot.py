"""Few-shot: the attacker is shown K successful human attacks as examples.

After Perez et al. (2022): the examples are openers of the most successful stored human
attacks (lowest min-harmlessness, then highest self-rating), and each attack draws its K
(seeded) from a pool of the K x ``pool_factor`` best, so attacks do not all copy the
same K. With goals (``redline attack --goals``) attack ``i`` also pursues goal ``i mod
len``, written under the examples.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from sqlalchemy import Select, select

from redline.attack.goals import goal_for, goals_digest
from redline.attack.results import ConversationResult
from redline.attack.sources import HUMAN_ORIGINS
from redline.attack.strategies.base import Kit, Options, Plan, seeded_rng
from redline.attack.strategies.chat import attacker_chat
from redline.errors import ConfigError, NotFoundError
from redline.store.models import Attempt, Turn

if TYPE_CHECKING:
    from redline.store import Store

#: Any select over ``Turn``: the openers (few-shot) or openers with replies (many-shot).
S = TypeVar("S", bound=Select)


def most_successful_openers(query: S, k: int) -> S:
    """``query`` (over ``Turn``) narrowed to the first turns of scored or rated human
    attacks, the most successful first: lowest min-harmlessness, then highest
    self-rating (for unscored attempts); ``3 k`` rows, so ``k`` remain after duplicates."""
    return (
        query.join(Attempt, Attempt.id == Turn.attempt_id)
        .where(Attempt.origin.in_(list(HUMAN_ORIGINS)), Turn.index == 0, Turn.human.is_not(None))
        .where((Attempt.min_harmlessness.is_not(None)) | (Attempt.rating.is_not(None)))
        .order_by(
            Attempt.min_harmlessness.is_(None),
            Attempt.min_harmlessness,
            Attempt.rating.desc(),
            Attempt.id,
        )
        .limit(k * 3)
    )


def successful_attacks(store: Store, k: int) -> list[str]:
    """Openers of the ``k`` most successful stored human attacks
    (:func:`most_successful_openers`)."""
    query = most_successful_openers(select(Turn.human), k)
    with store.session() as session:
        openers = [h.strip() for h in session.scalars(query) if h and h.strip()]
    unique = list(dict.fromkeys(openers))[:k]
    if len(unique) < k:
        raise NotFoundError(
            f"few-shot needs {k} scored or rated human attacks, the store has {len(unique)}; "
            "import attempts (redline import) and score them (redline score)"
        )
    return unique


@dataclass(frozen=True)
class FewShot:
    """``k`` examples drawn per attack from ``pool``; the attacker writes every turn."""

    name: ClassVar[str] = "few-shot"
    description: ClassVar[str] = "K successful stored human attacks shown as examples"
    needs_judge: ClassVar[bool] = False

    pool: tuple[str, ...]
    k: int
    turns: int = 1
    goals: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        if not 0 < self.k <= len(self.pool):
            raise ConfigError(f"--few-shot {self.k} needs that many examples in the pool")

    @classmethod
    def setup(cls, options: Options, store: Store) -> FewShot:
        if options.few_shot < 1:
            raise ConfigError("few-shot needs --few-shot K (K >= 1 examples per attack)")
        pool = successful_attacks(store, options.few_shot * options.pool_factor)
        return cls(tuple(pool), options.few_shot, options.budget.turns, options.goals)

    @property
    def recipe(self) -> tuple[Any, ...]:
        recipe = (self.name, self.k, self.turns)  # without goals: the keys of earlier runs
        return (*recipe, goals_digest(self.goals)) if self.goals else recipe

    def plan(self, index: int, seed: int) -> Plan:
        rng = seeded_rng(seed, self.name, self.k, index)
        examples = tuple(rng.sample(list(self.pool), self.k))
        goal = goal_for(self.goals, index) if self.goals else ""
        return Plan(index, rng.randrange(2**31), goal=goal, examples=examples)

    def run(self, plan: Plan, kit: Kit) -> Iterator[ConversationResult]:
        yield attacker_chat(self.name, plan, kit, turns=self.turns)
