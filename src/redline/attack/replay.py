"""Replay: human attacks re-run against targets, scored, stored as ``origin=replay``.

Each source attempt's human turns are sent as written (``turns="first"``: only the
opener; ``"all"``: every human turn, each later one sent whatever the target answered
before). Replies come from the target (see :mod:`redline.attack.conversation` for which
reply continues). A replay of (source, target, turns mode, variant, converters) is done
once: a rerun skips every stored one, so an interrupted replay simply resumes. With
converters (``redline replay --converter``) each human turn is converted before the
target sees it, and the chain is part of the key: a converted replay is new work.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from redline.attack.conversation import converse
from redline.attack.converters.base import ConverterSpec, chain_label
from redline.attack.executors import Executor
from redline.attack.persist import make_key
from redline.attack.results import ConversationResult
from redline.attack.resumable import RunReport, run_jobs
from redline.attack.runtime import Runtime
from redline.attack.sources import SourceAttack
from redline.errors import ConfigError
from redline.store import Store
from redline.store.models import Origin
from redline.targets.base import Message

TURNS_MODES: tuple[str, ...] = ("first", "all")


def replay_key(
    source_attempt_id: int,
    target: str,
    turns: str,
    variant: str = "",
    converters: Sequence[ConverterSpec] = (),
) -> str:
    """The store key of one replay (``content_hash``); without converters it is the key
    replays had before converters existed, so their runs still resume."""
    chain = (chain_label(converters),) if converters else ()
    return make_key("replay", source_attempt_id, target, turns, variant, *chain)


def job_seed(source_attempt_id: int, seed: int) -> int:
    """A reproducible per-attack seed; equal across targets (common random numbers)."""
    return zlib.crc32(f"{seed}:{source_attempt_id}".encode()) & 0x7FFFFFFF


@dataclass(frozen=True)
class ReplayJob:
    """Replay one source attack against one target."""

    key: str
    target: str
    source_attempt_id: int
    humans: tuple[str, ...]
    seed: int
    task_description: str | None = None
    converters: tuple[ConverterSpec, ...] = ()

    def run(self, runtime: Runtime) -> list[ConversationResult]:
        result = ConversationResult(
            key=self.key,
            target=self.target,
            source_attempt_id=self.source_attempt_id,
            task_description=self.task_description,
        )

        def next_human(_conversation: list[Message], index: int) -> str | None:
            return self.humans[index] if index < len(self.humans) else None

        converse(
            runtime.target(self.target),
            runtime.reply_scorer(),
            next_human,
            max_turns=len(self.humans),
            candidates=runtime.candidates,
            seed=self.seed,
            result=result,
            converters=self.converters,
        )
        return [result]


def plan_replay(
    attacks: Sequence[SourceAttack],
    targets: Sequence[str],
    *,
    turns: str = "first",
    variant: str = "",
    seed: int = 0,
    converters: Sequence[ConverterSpec] = (),
) -> list[ReplayJob]:
    """One job per (target, attack), target-major so each model's prompt cache stays warm;
    ``converters`` rewrite every human turn before the target sees it."""
    if turns not in TURNS_MODES:
        raise ConfigError(f"--turns must be first or all, not {turns!r}")
    if not targets:
        raise ConfigError("give at least one target, e.g. --targets smollm2-135m/plain")
    return [
        ReplayJob(
            key=replay_key(a.attempt_id, target, turns, variant, converters),
            target=target,
            source_attempt_id=a.attempt_id,
            humans=a.humans[:1] if turns == "first" else a.humans,
            seed=job_seed(a.attempt_id, seed),
            task_description=a.task_description,
            converters=tuple(converters),
        )
        for target in targets
        for a in attacks
    ]


def replay(
    store: Store,
    runtime: Runtime,
    attacks: Sequence[SourceAttack],
    targets: Sequence[str],
    *,
    turns: str = "first",
    variant: str = "",
    seed: int = 0,
    converters: Sequence[ConverterSpec] = (),
    executor: Executor | None = None,
    batch_size: int = 4,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> RunReport:
    """Replay ``attacks`` against every target; returns counts and timing."""
    for name in targets:
        runtime.targets.info(name)  # unknown names fail before any work
    jobs = plan_replay(
        attacks, targets, turns=turns, variant=variant, seed=seed, converters=converters
    )
    return run_jobs(
        store,
        runtime,
        jobs,
        origin=Origin.REPLAY,
        executor=executor,
        batch_size=batch_size,
        progress=progress,
        on_start=on_start,
    )
