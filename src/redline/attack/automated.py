"""Automated red teaming: an attacker LM attacks a target with a strategy; stored with
``origin=automated``, authored by the attacker's Person row (pool ``automated``).

Resumable like replay: attack ``i`` of a recipe (attacker, target, strategy and its
settings, seed) has a fixed key, so ``--n 20`` after ``--n 10`` runs only the ten new
ones. A strategy plans without knowing the target, so the same recipe sends the same
first message to every target: automated attacks on two targets can be compared
pairwise.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Protocol

from redline.attack.attacker import AttackerBackendFactory
from redline.attack.converters.base import ConverterSpec, chain_label
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
    converters: tuple[ConverterSpec, ...] = ()

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
            converters=self.converters,
        )
        results = list(self.strategy.run(self.plan, kit))
        failed = [r for r in results if r.error]
        # An attack is stored whole or not at all: a search that failed half-way would
        # otherwise leave its root stored, and the next run would skip the attack.
        return failed or results


def plan_attacks(
    target: str,
    attacker: AttackerBackendFactory,
    strategy: Strategy,
    *,
    n: int,
    seed: int = 0,
    attack_tokens: int = 64,
    judge: JudgeFactory | None = None,
    converters: Sequence[ConverterSpec] = (),
) -> list[AttackJob]:
    """``n`` attack jobs, each keyed by the recipe and its index (and the converter chain,
    when there is one: a converted run is new work)."""
    if n < 1:
        raise ConfigError(f"--n must be at least 1 (got {n})")
    if strategy.needs_judge and judge is None:
        raise ConfigError(f"strategy {strategy.name} needs a judge: pass --judge NAME")
    chain = (chain_label(converters),) if converters else ()
    return [
        AttackJob(
            key=make_key(
                "automated", target, attacker.name, *strategy.recipe, seed, attack_tokens, i, *chain
            ),
            target=target,
            attacker=attacker,
            strategy=strategy,
            plan=strategy.plan(i, seed),
            judge=judge if strategy.needs_judge else None,
            attack_tokens=attack_tokens,
            converters=tuple(converters),
        )
        for i in range(n)
    ]


def check_judge(runtime: Runtime, target: str, judge: JudgeFactory) -> None:
    """Refuse a judge that is not independent of the target (its defence's own ranker,
    a PM trained on the same pairs, or the target's own model): a search steered by the
    target's selector finds what that selector likes, not what is harmful."""
    from redline.judges.independence import conflict, selectors

    built = cached(judge, judge)  # built once: workers in this process reuse it
    chosen_by = selectors(runtime.targets.info(target).model_type)  # any PM, by default
    why = conflict(built.identity, built.info, target.split("/")[0], chosen_by)
    if why:
        raise ConfigError(
            f"judge {built.info.name} may not steer attacks on {target}: the target {why}; "
            "pick an independent judge (refusal, or an LLM judge over another model)"
        )


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
    budget: Budget | None = None,
    goals: Sequence[str] = (),
    shots: int = 0,
    shots_from: str = "file",
    threshold: float | None = None,
    converters: Sequence[ConverterSpec] = (),
    seed: int = 0,
    max_tokens: int = 64,
    judge: JudgeFactory | None = None,
    executor: Executor | None = None,
    batch_size: int = 4,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> RunReport:
    """Run ``n`` automated attacks with the strategy called ``strategy`` (by default
    few-shot when ``few_shot`` > 0, else zero-shot) and store them. ``budget`` (width,
    depth, queries) overrides ``turns``; ``goals``, ``shots``, ``shots_from`` and
    ``threshold`` go to the strategies that use them
    (:class:`~redline.attack.strategies.base.Options`); ``converters`` rewrite every
    human turn before the target sees it."""
    runtime.targets.info(target)
    name = strategy or ("few-shot" if few_shot > 0 else "zero-shot")
    options = Options(
        budget=budget or Budget(turns=turns),
        few_shot=few_shot,
        pool_factor=pool_factor,
        goals=tuple(goals),
        shots=shots,
        shots_from=shots_from,
        threshold=threshold,
    )
    configured = STRATEGIES.load(name).setup(options, store)
    if configured.needs_judge and judge is not None:
        check_judge(runtime, target, judge)
    jobs = plan_attacks(
        target,
        attacker,
        configured,
        n=n,
        seed=seed,
        attack_tokens=max_tokens,
        judge=judge,
        converters=converters,
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
