"""Zero-shot: the attacker gets its instructions and a topic from the paper's harm areas.

After Perez et al. (2022) as Ganguli et al. (2022) use it: no examples, so what the
attacker writes shows what the model does unprompted. Each attack draws its topic
(seeded, independent of the target) and with ``turns`` > 1 the attacker goes on from the
transcript. With goals (``redline attack --goals``) attack ``i`` pursues goal ``i mod
len`` instead of a drawn topic; the topic is still drawn, so attack seeds do not change.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from redline.attack.attacker import load_attacker_prompt
from redline.attack.goals import goal_for, goals_digest
from redline.attack.results import ConversationResult
from redline.attack.strategies.base import Kit, Options, Plan, seeded_rng
from redline.attack.strategies.chat import attacker_chat
from redline.errors import ConfigError

if TYPE_CHECKING:
    from redline.store import Store


@dataclass(frozen=True)
class ZeroShot:
    """Instructions and a seeded topic; the attacker writes every human turn."""

    name: ClassVar[str] = "zero-shot"
    description: ClassVar[str] = "instructions and a topic drawn from the paper's harm areas"
    needs_judge: ClassVar[bool] = False

    turns: int = 1
    goals: tuple[str, ...] = ()

    @classmethod
    def setup(cls, options: Options, store: Store) -> ZeroShot:
        if options.few_shot:
            raise ConfigError("zero-shot shows no examples: drop --few-shot or use few-shot")
        return cls(turns=options.budget.turns, goals=options.goals)

    @property
    def recipe(self) -> tuple[Any, ...]:
        recipe = (self.name, 0, self.turns)  # without goals: the keys of earlier runs
        return (*recipe, goals_digest(self.goals)) if self.goals else recipe

    def plan(self, index: int, seed: int) -> Plan:
        rng = seeded_rng(seed, self.name, 0, index)
        attack_seed = rng.randrange(2**31)
        topic = rng.choice(load_attacker_prompt().topics)
        return Plan(index, attack_seed, goal=goal_for(self.goals, index) if self.goals else topic)

    def run(self, plan: Plan, kit: Kit) -> Iterator[ConversationResult]:
        yield attacker_chat(self.name, plan, kit, turns=self.turns)
