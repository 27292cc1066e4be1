"""What every attack strategy is: a goal, an attacker, an optional judge, a budget and a
seed in; the conversations it ran, with their lineage, out.

Why this shape: today's strategies (zero-shot, few-shot, each over one or more turns)
write one conversation per attack, but the iterative ones that come next (PAIR refines a
prompt from the judge's score, TAP grows and prunes a tree, Crescendo backtracks on a
refusal, many-shot prepends a faux dialogue) run several and must keep how each one came
about. So a strategy is split where the work is split:

- in the main process, :meth:`Strategy.setup` checks its options and reads what it needs
  from the store (few-shot: the most successful human attacks), and :meth:`Strategy.plan`
  turns attack ``i`` of a run into a small picklable :class:`Plan` (seeded: the same run
  plans the same attacks, so a rerun resumes and two targets get the same openers);
- in a worker, :meth:`Strategy.run` gets the :class:`Kit` (target, scorer, attacker
  backend, judge) and yields every conversation it ran. Each is keyed for the store
  (:meth:`Kit.converse`), the first by the job's key, so an interrupted run resumes;
  :class:`Lineage` (node, parent, score) goes to ``Attempt.extra``.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Protocol

from redline.attack.attacker import write_attack
from redline.attack.conversation import NextHuman, converse
from redline.attack.persist import make_key
from redline.attack.results import ConversationResult
from redline.errors import ConfigError
from redline.targets.base import Backend, Message, Scorer, TargetModel

if TYPE_CHECKING:
    from redline.judges.base import Judge
    from redline.store import Store


@dataclass(frozen=True)
class Budget:
    """How much one attack may spend: ``turns`` (depth: human turns of a conversation,
    or refinement steps), ``width`` (branches per step) and ``queries`` (target queries
    in all; 0 = turns x width)."""

    turns: int = 1
    width: int = 1
    queries: int = 0

    def __post_init__(self) -> None:
        if min(self.turns, self.width) < 1 or self.queries < 0:
            raise ConfigError(
                "a budget needs --turns and width of at least 1 and queries of at least 0 "
                f"(got {self.turns}, {self.width}, {self.queries})"
            )


@dataclass(frozen=True)
class Options:
    """What ``redline attack`` lets a user set; each strategy reads what it needs and
    rejects what makes no sense for it."""

    budget: Budget = Budget()
    few_shot: int = 0
    pool_factor: int = 4


@dataclass(frozen=True)
class Plan:
    """Attack ``index`` of a run, as planned: its ``seed``, its ``goal`` (a task
    description, or a topic the attacker writes about) and ``examples`` to show the
    attacker (few-shot's human attacks, many-shot's faux dialogue)."""

    index: int
    seed: int
    goal: str = ""
    examples: tuple[str, ...] = ()


@dataclass(frozen=True)
class Lineage:
    """Where a conversation sits in a strategy's search: ``node`` names it within the
    attack (``""`` is the attack's first), ``parent`` the node it was refined from, and
    ``score`` the judge's score that guided the step."""

    node: str = ""
    parent: str | None = None
    score: float | None = None


def seeded_rng(*parts: object) -> random.Random:
    """A generator seeded from ``parts`` (stable across runs and Python versions)."""
    return random.Random(zlib.crc32(":".join(str(p) for p in parts).encode()))


@dataclass
class Kit:
    """What a worker hands a strategy for one attack: the target under attack, the
    scorer every reply is scored with, the attacker's backend and the judge (None unless
    the strategy needs one), and where the attack's conversations go in the store."""

    key: str
    target_name: str
    target: TargetModel
    scorer: Scorer
    attacker: Backend
    attacker_name: str
    judge: Judge | None
    candidates: int
    attack_tokens: int

    def write(self, messages: Sequence[Message], seed: int) -> str:
        """One cleaned attack message from the attacker (redrawn when blank)."""
        return write_attack(self.attacker, messages, seed=seed, max_tokens=self.attack_tokens)

    def converse(
        self,
        next_human: NextHuman,
        *,
        turns: int,
        seed: int,
        strategy: str,
        lineage: Lineage | None = None,
    ) -> ConversationResult:
        """Run one conversation against the target, every reply scored; keyed by the
        job's key for the attack's first node, by the key and the node otherwise."""
        node = lineage.node if lineage else ""
        result = ConversationResult(
            key=make_key(self.key, node) if node else self.key,
            target=self.target_name,
            attacker=self.attacker_name,
        )
        if lineage is not None:
            result.extra = {
                "strategy": strategy,
                "node": lineage.node,
                "parent": lineage.parent,
                "score": lineage.score,
            }
        return converse(
            self.target,
            self.scorer,
            next_human,
            max_turns=turns,
            candidates=self.candidates,
            seed=seed,
            result=result,
        )


class Strategy(Protocol):
    """An automated attacker's way of attacking: one class in one module, registered
    under ``name`` (``redline attack --strategy NAME``)."""

    #: The registered name.
    name: ClassVar[str]
    #: One line for ``redline attack --help`` and listings.
    description: ClassVar[str]
    #: True when :meth:`run` scores replies with a judge (``Kit.judge`` is then set).
    needs_judge: ClassVar[bool]

    @classmethod
    def setup(cls, options: Options, store: Store) -> Strategy:
        """A configured strategy for one run (main process): checks ``options`` and reads
        what it needs from ``store``; raises :class:`ConfigError` on a bad option."""
        ...

    @property
    def recipe(self) -> tuple[Any, ...]:
        """Everything of this configuration that changes its attacks, starting with its
        name: part of every attack's store key, so another recipe is new work."""
        ...

    def plan(self, index: int, seed: int) -> Plan:
        """Attack ``index`` of a run seeded ``seed`` (deterministic; picklable)."""
        ...

    def run(self, plan: Plan, kit: Kit) -> Iterator[ConversationResult]:
        """Every conversation the attack ran (worker); a backend failure is recorded on
        the result (:func:`redline.attack.conversation.converse`), never raised."""
        ...
