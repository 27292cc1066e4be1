"""Replay throughput: real human attacks replayed against real targets, scored by the PM.

Prints one JSON line per measurement:
  attacks_per_min   - attacks replayed, scored and stored per minute (after warm-up)
  seconds_per_attack
  reply_s_median    - median time of the target's reply call per attack
  score_share       - share of the worker time not spent in the reply call (PM scoring,
                      writing), so a slow target and a slow judge can be told apart
  load_avg_1m       - the machine's 1-minute load average at the end (other work on
                      the CPU slows every number above)

  python benchmarks/replay_bench.py                       # smollm2-135m plain and rs16
  python benchmarks/replay_bench.py --workers 0          # this process only
  python benchmarks/replay_bench.py --attacks 20 --max-tokens 64 --targets smollm2-135m/hhh

For each executor (--workers: 0 = this process with llama.cpp's default threads, N = a
pool of N single-core processes) and target, --warmup attacks are replayed first (model
and PM loads, prompt cache), then the timed --attacks different ones (distinct first human
turns of hh-rlhf pairs-a, turns=first, one candidate), into a fresh temporary store.
"""

from __future__ import annotations

import argparse
import itertools
import os
import statistics
import tempfile
import time
from pathlib import Path
from typing import Any

import common

from redline.attack.executors import make_executor
from redline.attack.replay import replay
from redline.attack.runtime import RegistryTargets, Runtime
from redline.attack.scoring import DefaultPM
from redline.attack.sources import first_turn_sample, import_attacks
from redline.config import load_settings
from redline.data import harmless_base_pairs
from redline.store import Store
from redline.store.models import Attempt, Candidate, Origin, Turn

PAIRS = harmless_base_pairs()


def emit(target: str, metric: str, value: float, unit: str, **extra: Any) -> None:
    common.emit("replay", metric, value, unit, target=target, **extra)


def reply_seconds(store: Store) -> list[float]:
    from sqlalchemy import select

    with store.session() as session:
        metas = session.scalars(
            select(Candidate.meta)
            .join(Turn)
            .join(Attempt)
            .where(Attempt.origin == Origin.REPLAY, Candidate.index == 0)
            .order_by(Attempt.id)
        ).all()
    return [float(m["sampler"]["call_s"]) for m in metas if m and "sampler" in m]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--targets", default="smollm2-135m/plain,smollm2-135m/rs16")
    parser.add_argument("--attacks", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2, help="Per worker, at least 2.")
    parser.add_argument("--max-tokens", type=int, default=48)
    parser.add_argument("--pairs", type=Path, default=PAIRS)
    parser.add_argument(
        "--workers",
        default="0,2",
        help="Comma-separated executors to measure: 0 = this process, N = a pool of N.",
    )
    args = parser.parse_args()

    with tempfile.TemporaryDirectory() as tmp:
        # A fresh data dir: an empty PM feature cache, so scoring is measured, not looked up.
        settings = load_settings(data_dir=tmp)
        store = Store(settings.db_url)
        pool = first_turn_sample(
            import_attacks(store, args.pairs), args.warmup + args.attacks, seed=123
        )
        warm, timed = pool[: args.warmup], pool[args.warmup :]
        scorer = DefaultPM(settings)
        runtime = Runtime(
            targets=RegistryTargets(settings, scorer, args.max_tokens), scorer=scorer, candidates=1
        )
        for workers, target in itertools.product(
            [int(w) for w in args.workers.split(",")],
            [t.strip() for t in args.targets.split(",") if t.strip()],
        ):
            executor = make_executor(workers=workers)
            label = f"w{workers}"
            try:
                # warm-up: every pool worker loads the model and the PM
                warmup = replay(
                    store,
                    runtime,
                    warm,
                    [target],
                    variant=f"warmup-{label}",
                    executor=executor,
                    batch_size=1,
                )
                before = len(reply_seconds(store))
                started = time.perf_counter()
                report = replay(
                    store,
                    runtime,
                    timed,
                    [target],
                    variant=f"timed-{label}",
                    executor=executor,
                    batch_size=1,
                )
                wall = time.perf_counter() - started
            finally:
                executor.close()
            replies = reply_seconds(store)[before:]
            extra = {
                "attacks": report.written,
                "max_tokens": args.max_tokens,
                "executor": report.executor,
                "warmup_failed": len(warmup.failed),
            }
            if report.failed:
                extra["failed"] = len(report.failed)
            emit(target, "attacks_per_min", 60 * report.written / wall, "attacks/min", **extra)
            emit(target, "seconds_per_attack", wall / max(1, report.written), "s", **extra)
            if replies:
                emit(target, "reply_s_median", statistics.median(replies), "s", **extra)
                busy = wall * max(1, workers)  # worker-seconds available
                emit(target, "score_share", 1 - sum(replies) / busy, "fraction", **extra)
        emit("machine", "load_avg_1m", os.getloadavg()[0], "load", cpus=os.cpu_count())
        store.dispose()


if __name__ == "__main__":
    main()
