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
from redline.targets.base import (
    Backend,
    Conversation,
    Message,
    Sample,
    Scorer,
    TargetModel,
)

if TYPE_CHECKING:
    from redline.attack.converters.base import ConverterSpec
    from redline.judges.base import Judge
    from redline.store import Store


@dataclass(frozen=True)
class Budget:
    """How much one attack may spend: ``turns`` (human turns of one conversation),
    ``width`` (parallel streams or branches per step), ``depth`` (refinement steps of an
    iterative search, or Crescendo's escalation turns) and ``queries`` (target queries in
    all, the cap every iterative search respects).

    Why 0 means "the strategy's default" for the last three: the searches need different
    shapes (PAIR a few steps of a few streams, Crescendo a handful of turns), and
    ``redline attack`` must not make a user choose all of them to run one."""

    turns: int = 1
    width: int = 0
    queries: int = 0
    depth: int = 0

    def __post_init__(self) -> None:
        if self.turns < 1 or min(self.width, self.queries, self.depth) < 0:
            raise ConfigError(
                "a budget needs --turns of at least 1 and --width, --depth and --budget of "
                f"at least 0 (got {self.turns}, {self.width}, {self.depth}, {self.queries})"
            )


#: ``--budget`` by name: target queries per attack, sized for this machine's embedded
#: models (small: a minute or two an attack with a 135M attacker and target).
BUDGETS = {"small": 6, "medium": 20, "large": 60}


def parse_queries(text: str) -> int:
    """``--budget``: a number of target queries per attack, or small/medium/large."""
    value = BUDGETS.get(text.strip().lower())
    if value is not None:
        return value
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise ConfigError(
            f"--budget takes a number of target queries or one of {', '.join(BUDGETS)} "
            f"(got {text!r})"
        )
    return value


@dataclass(frozen=True)
class Options:
    """What ``redline attack`` lets a user set; each strategy reads what it needs and
    rejects what makes no sense for it."""

    budget: Budget = Budget()
    few_shot: int = 0
    pool_factor: int = 4
    #: Goals (task descriptions) attack ``i`` takes ``goals[i % len]`` from; empty: the
    #: strategy's packaged default goals.
    goals: tuple[str, ...] = ()
    #: Many-shot: faux exchanges before the goal (0 = the strategy's default), drawn from
    #: the packaged ``file`` or the ``store``'s most successful human attacks.
    shots: int = 0
    shots_from: str = "file"
    #: The judge's harm score at which a goal counts as reached (None: the judge's scale
    #: decides, see :func:`redline.attack.strategies.judging.success_threshold`).
    threshold: float | None = None


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
    #: ``--converter``: every human turn is converted before the target sees it.
    converters: tuple[ConverterSpec, ...] = ()

    def write(self, messages: Sequence[Message], seed: int) -> str:
        """One cleaned attack message from the attacker (redrawn when blank)."""
        return write_attack(self.attacker, messages, seed=seed, max_tokens=self.attack_tokens)

    def draft(
        self,
        messages: Sequence[Message],
        seed: int,
        max_tokens: int = 0,
        temperature: float = 1.0,
    ) -> str:
        """The attacker's raw answer ("" when it gave none), for strategies that parse it
        themselves (an improved prompt, a yes/no); a backend failure is raised."""
        samples = self.attacker.generate(
            list(messages),
            n=1,
            max_tokens=max_tokens or self.attack_tokens,
            temperature=temperature,
            seed=seed % 2**31,
        )
        return samples[0].text if samples else ""

    def key_for(self, node: str, *, root: bool) -> str:
        """The store key of a conversation: the job's key for the attack's root (a rerun
        finds it and skips the attack), the key and the node for every other one."""
        return self.key if root else make_key(self.key, node)

    def shell(
        self, strategy: str, lineage: Lineage | None, *, root: bool | None = None
    ) -> ConversationResult:
        """An empty result for one conversation, keyed and carrying its lineage; ``root``
        defaults to "the node is named ''" (how zero-shot and few-shot key theirs)."""
        node = lineage.node if lineage else ""
        result = ConversationResult(
            key=self.key_for(node, root=(node == "") if root is None else root),
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
        return result

    def converse(
        self,
        next_human: NextHuman,
        *,
        turns: int,
        seed: int,
        strategy: str,
        lineage: Lineage | None = None,
        history: Sequence[Message] = (),
        root: bool | None = None,
        task_description: str | None = None,
    ) -> ConversationResult:
        """Run one conversation against the target, every reply scored; keyed by
        :meth:`key_for`. With ``history`` the target and the scorer see those messages
        before the conversation's own (Crescendo goes on from the turns it kept), while
        the result holds only the new turns. A ``task_description`` (an attack's goal, on
        its root) is stored and scored like a red teamer's."""
        target, scorer = self.target, self.scorer
        if history:
            target = _WithHistory(target, tuple(history))
            scorer = _ScorerWithHistory(scorer, tuple(history))
        result = self.shell(strategy, lineage, root=root)
        result.task_description = task_description
        return converse(
            target,
            scorer,
            next_human,
            max_turns=turns,
            candidates=self.candidates,
            seed=seed,
            result=result,
            converters=self.converters,
        )


class _WithHistory:
    """A target that answers as if ``history`` came before every conversation it gets."""

    def __init__(self, inner: TargetModel, history: tuple[Message, ...]) -> None:
        self.inner, self.history, self.info = inner, history, inner.info

    def reply(
        self, conversation: Conversation, n: int = 2, seed: int | None = None
    ) -> list[Sample]:
        return self.inner.reply((*self.history, *conversation), n, seed)


class _ScorerWithHistory:
    """A scorer that scores replies after ``history`` and their own context, so a kept
    turn is scored as it was said: after everything before it."""

    def __init__(self, inner: Scorer, history: tuple[Message, ...]) -> None:
        self.inner, self.history, self.identity = inner, history, inner.identity

    def score(self, context: Conversation, reply: str) -> float:
        return self.inner.score((*self.history, *context), reply)

    def score_batch(self, context: Conversation, replies: Sequence[str]) -> list[float]:
        return self.inner.score_batch((*self.history, *context), replies)

    def accepts_embeddings_from(self, backend: Backend) -> bool:
        return self.inner.accepts_embeddings_from(backend)

    def score_embeddings(self, embeddings: Sequence[Any]) -> list[float]:
        return self.inner.score_embeddings(embeddings)


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
