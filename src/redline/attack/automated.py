"""Automated red teaming: an attacker LM writes attacks against a target; stored with
``origin=automated``, authored by the attacker's Person row (pool ``automated``).

Resumable like replay: attack ``i`` of a recipe (attacker, target, mode, K, turns, seed)
has a fixed key, so ``--n 20`` after ``--n 10`` runs only the ten new ones. The opener's
seed does not depend on the target, so the same recipe sends the same first message to
every target: automated attacks on two targets can be compared pairwise.
"""

from __future__ import annotations

import random
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from sqlalchemy import select

from redline.attack.attacker import (
    AttackerBackendFactory,
    attack_messages,
    load_attacker_prompt,
    write_attack,
)
from redline.attack.engine import converse
from redline.attack.executors import Executor
from redline.attack.persist import attacker_person, make_key
from redline.attack.results import ConversationResult
from redline.attack.runner import RunReport, run_jobs
from redline.attack.runtime import Runtime, cached
from redline.attack.sources import HUMAN_ORIGINS
from redline.errors import ConfigError, NotFoundError
from redline.store import Store
from redline.store.models import Attempt, Origin, Turn
from redline.targets.base import Message

MODES = ("zero-shot", "few-shot")


@dataclass(frozen=True)
class AttackJob:
    """Attack ``index`` of a recipe: the attacker writes every human turn."""

    key: str
    target: str
    attacker: AttackerBackendFactory
    mode: str
    index: int
    seed: int
    turns: int = 1
    examples: tuple[str, ...] = ()
    topic: str = ""
    max_tokens: int = 64

    def run(self, runtime: Runtime) -> ConversationResult:
        backend = cached(self.attacker, self.attacker)
        result = ConversationResult(key=self.key, target=self.target, attacker=self.attacker.name)

        def next_human(conversation: list[Message], index: int) -> str:
            messages = attack_messages(
                self.mode, conversation=conversation, examples=self.examples, topic=self.topic
            )
            return write_attack(
                backend, messages, seed=(self.seed + 31 * index) % 2**31, max_tokens=self.max_tokens
            )

        return converse(
            runtime.target(self.target),
            runtime.reply_scorer(),
            next_human,
            max_turns=self.turns,
            candidates=runtime.candidates,
            seed=self.seed,
            result=result,
        )


def successful_attacks(store: Store, k: int) -> list[str]:
    """Openers of the ``k`` most successful stored human attacks: lowest
    min-harmlessness first, then highest self-rating (for unscored attempts)."""
    query = (
        select(Turn.human)
        .join(Attempt, Attempt.id == Turn.attempt_id)
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
    with store.session() as session:
        openers = [h.strip() for h in session.scalars(query) if h and h.strip()]
    unique = list(dict.fromkeys(openers))[:k]
    if len(unique) < k:
        raise NotFoundError(
            f"few-shot needs {k} scored or rated human attacks, the store has {len(unique)}; "
            "import attempts (redline import) and score them (redline score)"
        )
    return unique


def plan_attacks(
    target: str,
    attacker: AttackerBackendFactory,
    *,
    n: int,
    mode: str,
    few_shot_pool: Sequence[str] = (),
    few_shot: int = 0,
    turns: int = 1,
    seed: int = 0,
    max_tokens: int = 64,
) -> list[AttackJob]:
    """``n`` attack jobs; each few-shot attack shows ``few_shot`` examples drawn (seeded)
    from ``few_shot_pool``; each zero-shot attack gets a seeded topic."""
    if mode not in MODES:
        raise ConfigError(f"mode must be one of {', '.join(MODES)}, not {mode!r}")
    if n < 1 or turns < 1:
        raise ConfigError(f"--n and --turns must be at least 1 (got {n}, {turns})")
    if mode == "few-shot" and not 0 < few_shot <= len(few_shot_pool):
        raise ConfigError(f"--few-shot {few_shot} needs that many examples in the pool")
    topics = load_attacker_prompt().topics
    jobs = []
    for i in range(n):
        rng = random.Random(zlib.crc32(f"{seed}:{mode}:{few_shot}:{i}".encode()))
        examples = tuple(rng.sample(list(few_shot_pool), few_shot)) if mode == "few-shot" else ()
        recipe = (attacker.name, mode, few_shot, turns, seed, max_tokens, i)
        jobs.append(
            AttackJob(
                key=make_key("automated", target, *recipe),
                target=target,
                attacker=attacker,
                mode=mode,
                index=i,
                seed=rng.randrange(2**31),
                turns=turns,
                examples=examples,
                topic=rng.choice(topics) if mode == "zero-shot" else "",
                max_tokens=max_tokens,
            )
        )
    return jobs


def attack(
    store: Store,
    runtime: Runtime,
    target: str,
    attacker: AttackerBackendFactory,
    *,
    n: int,
    few_shot: int = 0,
    pool_factor: int = 4,
    turns: int = 1,
    seed: int = 0,
    max_tokens: int = 64,
    executor: Executor | None = None,
    batch_size: int = 4,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> RunReport:
    """Run ``n`` automated attacks (zero-shot when ``few_shot`` is 0) and store them."""
    runtime.targets.info(target)
    mode = "few-shot" if few_shot > 0 else "zero-shot"
    pool = successful_attacks(store, few_shot * pool_factor) if few_shot > 0 else []
    jobs = plan_attacks(
        target,
        attacker,
        n=n,
        mode=mode,
        few_shot_pool=pool,
        few_shot=few_shot,
        turns=turns,
        seed=seed,
        max_tokens=max_tokens,
    )
    person_id = attacker_person(store, attacker.name)
    return run_jobs(
        store,
        runtime,
        jobs,
        origin=Origin.AUTOMATED,
        executor=executor,
        batch_size=batch_size,
        person_id=person_id,
        progress=progress,
        on_start=on_start,
    )
