"""Where batches of attack jobs run: in this process, a local process pool, or Ray.

Why three and one interface: a laptop run, a many-core box and a cluster differ only in
where ``run_batch`` executes. Workers compute (generate and score) and return plain
results; the caller writes them to the store as each batch completes, so an interrupted
run keeps every finished batch and the store has one writer.

- ``LocalExecutor``: batches in this process, ``concurrency`` threads (useful for
  OpenAI-compatible servers; embedded llama.cpp models serialise on their context);
- ``ProcessExecutor``: a spawn-started ``ProcessPoolExecutor``; each worker is pinned to
  its share of the CPUs so N llama.cpp workers do not fight over cores;
- ``RayExecutor``: one Ray actor per worker (each loads its models once), on the cluster
  at ``address`` (``"local"`` starts a private local instance). Redline must be
  installed where the actors run.
"""

from __future__ import annotations

import multiprocessing as mp
import os
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import (
    FIRST_COMPLETED,
    Future,
    ProcessPoolExecutor,
    ThreadPoolExecutor,
    wait,
)
from typing import Any, Protocol

from redline.attack.results import ConversationResult
from redline.attack.runtime import Runtime
from redline.errors import ConfigError


class Job(Protocol):
    """A unit of work: builds what it needs from the runtime and returns its results.

    A replay or a one-conversation attack returns one result keyed ``key``; a strategy
    that searches (a tree of attempts) returns several, the first keyed ``key`` so a rerun
    knows the job is done.
    """

    @property
    def key(self) -> str: ...

    @property
    def target(self) -> str: ...

    def run(self, runtime: Runtime) -> list[ConversationResult]: ...


def run_batch(runtime: Runtime, jobs: Sequence[Job]) -> list[ConversationResult]:
    """Run jobs one after another in this process (models are built once and cached)."""
    return [result for job in jobs for result in job.run(runtime)]


def batches(jobs: Sequence[Job], size: int) -> list[list[Job]]:
    """Consecutive batches, so jobs on one target stay together (prompt-cache friendly)."""
    if size < 1:
        raise ConfigError(f"batch size must be at least 1, got {size}")
    return [list(jobs[i : i + size]) for i in range(0, len(jobs), size)]


class Executor(Protocol):
    """Runs batches and yields each batch's results as soon as it is done."""

    description: str

    def map_batches(
        self, runtime: Runtime, work: Sequence[Sequence[Job]]
    ) -> Iterator[list[ConversationResult]]: ...

    def close(self) -> None: ...


def _as_completed(
    submit: Callable[[Sequence[Job]], Future[list[ConversationResult]]],
    work: Sequence[Sequence[Job]],
    window: int,
) -> Iterator[list[ConversationResult]]:
    """Keep at most ``window`` batches in flight; yield results in completion order."""
    pending: set[Future[list[ConversationResult]]] = set()
    queue = list(work)
    queue.reverse()
    while queue or pending:
        while queue and len(pending) < window:
            pending.add(submit(queue.pop()))
        done, pending = wait(pending, return_when=FIRST_COMPLETED)
        for future in done:
            yield future.result()


class LocalExecutor:
    """Batches in this process; ``concurrency`` > 1 runs them in threads."""

    def __init__(self, concurrency: int = 1) -> None:
        if concurrency < 1:
            raise ConfigError(f"concurrency must be at least 1, got {concurrency}")
        self.concurrency = concurrency
        self.description = f"this process ({concurrency} thread{'s' * (concurrency > 1)})"
        self._pool = ThreadPoolExecutor(concurrency) if concurrency > 1 else None

    def map_batches(
        self, runtime: Runtime, work: Sequence[Sequence[Job]]
    ) -> Iterator[list[ConversationResult]]:
        if self._pool is None:
            for jobs in work:
                yield run_batch(runtime, jobs)
            return
        pool = self._pool
        yield from _as_completed(
            lambda jobs: pool.submit(run_batch, runtime, jobs), work, self.concurrency * 2
        )

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True, cancel_futures=True)


def _pin_worker(counter: Any, workers: int) -> None:
    """Give each pool worker its own slice of the CPUs (llama.cpp uses all it may)."""
    with counter.get_lock():
        index = counter.value
        counter.value += 1
    try:
        cpus = sorted(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return
    share = max(1, len(cpus) // workers)
    start = (index % workers) * share % len(cpus)
    os.sched_setaffinity(0, cpus[start : start + share] or cpus)


class ProcessExecutor:
    """A local pool of ``workers`` processes (spawned: no forked model state)."""

    def __init__(self, workers: int) -> None:
        if workers < 1:
            raise ConfigError(f"--workers must be at least 1, got {workers}")
        self.workers = workers
        self.description = f"a local pool of {workers} processes"
        context = mp.get_context("spawn")
        counter = context.Value("i", 0)
        self._pool = ProcessPoolExecutor(
            workers, mp_context=context, initializer=_pin_worker, initargs=(counter, workers)
        )

    def map_batches(
        self, runtime: Runtime, work: Sequence[Sequence[Job]]
    ) -> Iterator[list[ConversationResult]]:
        yield from _as_completed(
            lambda jobs: self._pool.submit(run_batch, runtime, list(jobs)), work, self.workers * 2
        )

    def close(self) -> None:
        self._pool.shutdown(wait=True, cancel_futures=True)


class _RayWorker:
    """A Ray actor: builds targets and the scorer once, then runs batch after batch."""

    def run(self, runtime: Runtime, jobs: list[Job]) -> list[ConversationResult]:
        return run_batch(runtime, jobs)


class RayExecutor:
    """``workers`` Ray actors on the cluster at ``address`` ("local": a private one)."""

    def __init__(self, address: str, workers: int | None = None) -> None:
        try:
            import ray
        except ImportError as exc:
            raise ConfigError("--ray needs the ray package: pip install 'redline[ray]'") from exc
        self._ray = ray
        self._started = not ray.is_initialized()
        if self._started:
            kwargs: dict[str, Any] = {"include_dashboard": False, "log_to_driver": False}
            if address == "local":
                ray.init(**kwargs)
            else:
                try:
                    ray.init(address=address, **kwargs)
                except (ConnectionError, RuntimeError, ValueError) as exc:
                    raise ConfigError(
                        f"cannot connect to the Ray cluster at {address!r} ({exc}); start one "
                        "with `ray start --head` or pass --ray local"
                    ) from exc
        cpus = int(ray.cluster_resources().get("CPU", 1))
        self.workers = workers or max(1, cpus)
        self.description = f"{self.workers} Ray actors at {address}"
        actor: Any = ray.remote(num_cpus=max(1, cpus // self.workers))(_RayWorker)
        self._actors: list[Any] = [actor.remote() for _ in range(self.workers)]

    def map_batches(
        self, runtime: Runtime, work: Sequence[Sequence[Job]]
    ) -> Iterator[list[ConversationResult]]:
        ray = self._ray
        runtime_ref = ray.put(runtime)
        queue = list(work)
        queue.reverse()
        idle = list(self._actors)
        running: dict[Any, Any] = {}
        while queue or running:
            while queue and idle:
                actor = idle.pop()
                running[actor.run.remote(runtime_ref, list(queue.pop()))] = actor
            done, _ = ray.wait(list(running), num_returns=1)
            for ref in done:
                idle.append(running.pop(ref))
                yield ray.get(ref)

    def close(self) -> None:
        for actor in self._actors:
            self._ray.kill(actor)
        if self._started:
            self._ray.shutdown()


def make_executor(
    *, workers: int = 0, ray_address: str | None = None, concurrency: int = 1
) -> Executor:
    """``--ray`` wins, then ``--workers N`` (N >= 1 processes), else this process."""
    if ray_address:
        return RayExecutor(ray_address, workers or None)
    if workers >= 1:
        return ProcessExecutor(workers)
    return LocalExecutor(concurrency)
