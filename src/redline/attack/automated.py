"""Automated red teaming: an attacker LM attacks a target with a strategy; stored with
``origin=automated``, authored by the attacker's Person row (pool ``automated``).

Resumable like replay: attack ``i`` of a recipe (attacker, target, strategy and its
settings, seed) has a fixed key, so ``--n 20`` after ``--n 10`` runs only the ten new
ones. A strategy plans without knowing the target, so the same recipe sends the same
first message to every target: automated attacks on two targets can be compared
pairwise.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from redline.attack.attacker import AttackerBackendFactory
from redline.attack.executors import Executor
from redline.attack.persist import attacker_person, make_key
from redline.attack.results import ConversationResult
from redline.attack.resumable import RunReport, run_jobs
from redline.attack.runtime import Runtime, cached
from redline.attack.strategies.base import Budget, Kit, Options, Plan, Strategy
from redline.attack.strategies.registry import STRATEGIES
from redline.config import Settings
from redline.errors import ConfigError
from redline.judges.base import Judge
from redline.store import Store
from redline.store.models import Origin


class JudgeFactory(Protocol):
    """A picklable recipe for the judge a strategy scores its steps with."""

    def __call__(self) -> Judge: ...


@dataclass(frozen=True)
class RegistryJudge:
    """The judge called ``name`` (``redline judge list``), built once per worker."""

    settings: Settings
    name: str

    def __call__(self) -> Judge:
        from redline.judges.registry import load_judge

        return load_judge(self.name, self.settings)


@dataclass(frozen=True)
class AttackJob:
    """Attack ``plan.index`` of a recipe: ``strategy`` runs it in a worker."""

    key: str
    target: str
    attacker: AttackerBackendFactory
    strategy: Strategy
    plan: Plan
    judge: JudgeFactory | None = None
    attack_tokens: int = 64

    def run(self, runtime: Runtime) -> list[ConversationResult]:
        kit = Kit(
            key=self.key,
            target_name=self.target,
            target=runtime.target(self.target),
            scorer=runtime.reply_scorer(),
            attacker=cached(self.attacker, self.attacker),
            attacker_name=self.attacker.name,
            judge=cached(self.judge, self.judge) if self.judge is not None else None,
            candidates=runtime.candidates,
            attack_tokens=self.attack_tokens,
        )
        return list(self.strategy.run(self.plan, kit))


def plan_attacks(
    target: str,
    attacker: AttackerBackendFactory,
    strategy: Strategy,
    *,
    n: int,
    seed: int = 0,
    attack_tokens: int = 64,
    judge: JudgeFactory | None = None,
) -> list[AttackJob]:
    """``n`` attack jobs, each keyed by the recipe and its index."""
    if n < 1:
        raise ConfigError(f"--n must be at least 1 (got {n})")
    if strategy.needs_judge and judge is None:
        raise ConfigError(f"strategy {strategy.name} needs a judge: pass --judge NAME")
    return [
        AttackJob(
            key=make_key(
                "automated", target, attacker.name, *strategy.recipe, seed, attack_tokens, i
            ),
            target=target,
            attacker=attacker,
            strategy=strategy,
            plan=strategy.plan(i, seed),
            judge=judge if strategy.needs_judge else None,
            attack_tokens=attack_tokens,
        )
        for i in range(n)
    ]


def attack(
    store: Store,
    runtime: Runtime,
    target: str,
    attacker: AttackerBackendFactory,
    *,
    n: int,
    strategy: str | None = None,
    few_shot: int = 0,
    pool_factor: int = 4,
    turns: int = 1,
    seed: int = 0,
    max_tokens: int = 64,
    judge: JudgeFactory | None = None,
    executor: Executor | None = None,
    batch_size: int = 4,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> RunReport:
    """Run ``n`` automated attacks with the strategy called ``strategy`` (by default
    few-shot when ``few_shot`` > 0, else zero-shot) and store them."""
    runtime.targets.info(target)
    name = strategy or ("few-shot" if few_shot > 0 else "zero-shot")
    options = Options(budget=Budget(turns=turns), few_shot=few_shot, pool_factor=pool_factor)
    configured = STRATEGIES.load(name).setup(options, store)
    jobs = plan_attacks(
        target, attacker, configured, n=n, seed=seed, attack_tokens=max_tokens, judge=judge
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
