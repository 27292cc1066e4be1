"""Running planned jobs: skip what the store has, run the rest, write as batches finish.

Shared by replay and automated attacks: both plan jobs with store keys, and both must be
resumable (stored keys are skipped) and write each finished batch at once.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from redline.attack.executors import Executor, Job, LocalExecutor, batches
from redline.attack.persist import done_keys, write_results
from redline.attack.runtime import Runtime
from redline.store import Store
from redline.store.models import Origin


@dataclass
class RunReport:
    """What a replay or attack run did; printed by the CLI and returned to callers."""

    planned: int = 0
    skipped: int = 0
    written: int = 0
    failed: list[str] = field(default_factory=list)
    seconds: float = 0.0
    executor: str = ""

    @property
    def attacks_per_minute(self) -> float:
        return 60.0 * self.written / self.seconds if self.seconds > 0 else 0.0


def run_jobs(
    store: Store,
    runtime: Runtime,
    jobs: Sequence[Job],
    *,
    origin: Origin,
    executor: Executor | None = None,
    batch_size: int = 4,
    person_id: int | None = None,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> RunReport:
    """Skip stored jobs, run the rest in batches, write each batch as it completes."""
    report = RunReport(planned=len(jobs))
    done = done_keys(store, [j.key for j in jobs])
    todo = [j for j in jobs if j.key not in done]
    keys = {j.key for j in todo}
    report.skipped = len(jobs) - len(todo)
    if on_start:
        on_start(len(todo))
    infos = {name: runtime.targets.info(name) for name in dict.fromkeys(j.target for j in todo)}
    executor = executor or LocalExecutor()
    report.executor = executor.description
    started = time.perf_counter()
    for results in executor.map_batches(runtime, batches(todo, batch_size)):
        report.written += write_results(
            store, results, origin=origin, targets=infos, person_id=person_id
        )
        report.failed += [f"{r.target}: {r.error}" for r in results if r.error]
        if progress:  # per job, not per conversation (a search stores several per job)
            progress(sum(r.key in keys for r in results))
    report.seconds = time.perf_counter() - started
    return report
