"""Automated attacks per minute, per strategy, on this machine.

For each strategy, one warm-up attack (model loads, prompt caches) and then ``--attacks``
timed attacks on ``--target`` by ``--attacker`` under ``--judge``, within ``--budget``
target queries each, into a fresh temporary store, in this process. Counts *attacks*
(an iterative search stores one conversation per target query; the CLI's "per minute"
counts stored conversations), the target queries they spent and how many reached the
goal by the judge.

Prints one JSON line per measurement:
  attacks_per_min, queries_per_min, queries_per_attack, reached (count), load_avg_1m

  python benchmarks/attack_bench.py
  python benchmarks/attack_bench.py --strategies pair,tap --attacks 5 --budget medium
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path
from typing import Any

import common
from sqlalchemy import select

from redline.attack.attacker import RegistryAttacker
from redline.attack.automated import RegistryJudge, attack
from redline.attack.goals import load_goals
from redline.attack.strategies.base import Budget, parse_queries
from redline.cli.replay import make_runtime
from redline.config import load_settings
from redline.store import Store
from redline.store.models import Attempt, Origin


def outcomes(store: Store) -> list[dict[str, Any]]:
    """The root record of every stored attack (queries spent, reached)."""
    with store.session() as session:
        extras = session.scalars(
            select(Attempt.extra).where(Attempt.origin == Origin.AUTOMATED).order_by(Attempt.id)
        ).all()
    return [e for e in extras if e and e.get("root")]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--strategies", default="pair,tap,crescendo,many-shot")
    parser.add_argument("--target", default="smollm2-135m/hhh")
    parser.add_argument("--attacker", default="smollm2-135m/plain")
    parser.add_argument("--judge", default="refusal")
    parser.add_argument("--budget", default="small", help="Target queries per attack.")
    parser.add_argument("--attacks", type=int, default=3)
    parser.add_argument("--max-tokens", type=int, default=48)
    args = parser.parse_args()

    goals = tuple(goal.text for goal in load_goals(None))
    with tempfile.TemporaryDirectory() as tmp:
        settings = load_settings(data_dir=Path(tmp) / "data")
        runtime = make_runtime(settings, pm=None, max_tokens=args.max_tokens, candidates=1)
        attacker = RegistryAttacker(settings, args.attacker)
        judge = RegistryJudge(settings, args.judge)
        budget = Budget(queries=parse_queries(args.budget))

        def run(store: Store, strategy: str, n: int, seed: int) -> None:
            attack(
                store,
                runtime,
                args.target,
                attacker,
                n=n,
                strategy=strategy,
                budget=budget,
                goals=goals,
                seed=seed,
                max_tokens=args.max_tokens,
                judge=judge,
            )

        for strategy in args.strategies.split(","):
            store = Store(f"sqlite:///{Path(tmp) / f'{strategy}.db'}")
            run(store, strategy, 1, seed=10_000)  # warm-up: not counted
            warm = len(outcomes(store))
            started = time.perf_counter()
            run(store, strategy, args.attacks, seed=0)
            seconds = time.perf_counter() - started
            timed = outcomes(store)[warm:]
            queries = sum(int(o["outcome"]["queries"]) for o in timed)
            extra = {
                "strategy": strategy,
                "target": args.target,
                "attacker": args.attacker,
                "judge": args.judge,
                "budget": args.budget,
                "attacks": len(timed),
            }
            common.emit("attack", "attacks_per_min", 60 * len(timed) / seconds, "1/min", **extra)
            common.emit("attack", "queries_per_min", 60 * queries / seconds, "1/min", **extra)
            common.emit("attack", "queries_per_attack", queries / max(1, len(timed)), "", **extra)
            reached = sum(1 for o in timed if o["outcome"].get("reached"))
            common.emit("attack", "reached", reached, "count", **extra)
    common.emit("attack", "load_avg_1m", os.getloadavg()[0], "")


if __name__ == "__main__":
    main()
