"""The paper's experiment in one call: model sizes x defences under one fixed attack set.

A seeded sample of distinct human openers (default: 100 from hh-rlhf harmless-base
pairs-a) is replayed against every target of the grid with short replies, every reply
scored by the preference model; then the targets are compared (intervals, paired tests)
and a Figure-1-style plot is drawn. Replays are stored under a study variant, so a rerun
resumes and a second study with the same settings reuses every finished replay.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import select

from redline.attack.compare import Comparison, compare, comparison_figure
from redline.attack.executors import Executor
from redline.attack.frame import comparison_frame
from redline.attack.replay import plan_replay
from redline.attack.rescore import rescore, stale
from redline.attack.runner import RunReport, run_jobs
from redline.attack.runtime import Runtime
from redline.attack.sources import first_turn_sample, import_attacks
from redline.config import Settings
from redline.data import harmless_base_pairs
from redline.errors import ConfigError
from redline.store import Store
from redline.store.models import Attempt, Origin

DEFAULT_MODELS = ("smollm2-135m", "gemma3-270m")
#: rlhf joins the grid once a model of that name exists in the registry.
DEFAULT_DEFENCES = ("plain", "hhh", "rs16", "rlhf")
#: The packaged hh-rlhf harmless-base pairs, so a study runs from any folder or a wheel.
DEFAULT_ATTACKS = harmless_base_pairs()


def default_grid(
    settings: Settings,
    models: Sequence[str] = DEFAULT_MODELS,
    defences: Sequence[str] = DEFAULT_DEFENCES,
) -> list[str]:
    """Every ``model/defence`` of the grid that the registry can build."""
    from redline.targets.registry import available_targets

    known = {info.name for info in available_targets(settings)}
    grid = [f"{m}/{d}" for m in models for d in defences if f"{m}/{d}" in known]
    if not grid:
        raise ConfigError(f"none of {', '.join(models)} x {', '.join(defences)} is a known target")
    return grid


@dataclass
class StudyConfig:
    """What defines a study; ``variant`` keys its replays apart from other replays."""

    targets: list[str]
    attacks: Path = DEFAULT_ATTACKS
    limit: int = 100
    seed: int = 0
    max_tokens: int = 48
    candidates: int = 1
    threshold: float | None = None
    threshold_quantile: float = 0.25
    n_boot: int = 2000

    @property
    def variant(self) -> str:
        return f"study:t{self.max_tokens}:c{self.candidates}"


@dataclass
class StudyResult:
    config: StudyConfig
    comparison: Comparison
    run: RunReport
    folder: Path
    seconds: float
    rescored: int
    attempts: pd.DataFrame = field(repr=False)


def _study_rows(store: Store, keys: list[str]) -> set[int]:
    ids: set[int] = set()
    with store.session() as session:
        for start in range(0, len(keys), 500):
            chunk = keys[start : start + 500]
            ids.update(session.scalars(select(Attempt.id).where(Attempt.content_hash.in_(chunk))))
    return ids


def run_study(
    store: Store,
    runtime: Runtime,
    config: StudyConfig,
    out_dir: Path,
    *,
    executor: Executor | None = None,
    batch_size: int = 4,
    progress: Callable[[int], None] | None = None,
    on_start: Callable[[int], None] | None = None,
) -> StudyResult:
    """Replay the attack set against the grid, compare, and write the results folder
    (summary.csv, paired.csv, attempts.csv, study.json, figure.png)."""
    started = time.perf_counter()
    for name in config.targets:
        runtime.targets.info(name)
    attacks = first_turn_sample(import_attacks(store, config.attacks), config.limit, config.seed)
    jobs = plan_replay(
        attacks, config.targets, turns="first", variant=config.variant, seed=config.seed
    )
    run = run_jobs(
        store,
        runtime,
        jobs,
        origin=Origin.REPLAY,
        executor=executor,
        batch_size=batch_size,
        progress=progress,
        on_start=on_start,
    )
    ids = _study_rows(store, [j.key for j in jobs])
    scorer = runtime.reply_scorer()
    # Replays from an earlier run may carry an older PM's scores: one judge for all.
    rescored = rescore(store, scorer, stale(store, sorted(ids), scorer.identity))
    with store.session() as session:
        frame = comparison_frame(session)
    rows = frame[frame["attempt_id"].isin(ids)]
    comparison = compare(
        rows,
        targets=config.targets,
        scored_by=scorer.identity,
        threshold=config.threshold,
        threshold_quantile=config.threshold_quantile,
        n_boot=config.n_boot,
        seed=config.seed,
    )
    seconds = time.perf_counter() - started
    out_dir.mkdir(parents=True, exist_ok=True)
    comparison.summary.to_csv(out_dir / "summary.csv", index=False)
    comparison.paired.to_csv(out_dir / "paired.csv", index=False)
    columns = ["attempt_id", "source_attempt_id", "target", "model_type", "size_label"]
    rows[[*columns, "min_harmlessness", "first_human"]].to_csv(
        out_dir / "attempts.csv", index=False
    )
    comparison_figure(comparison, out_dir / "figure.png")
    meta: dict[str, Any] = {
        "config": {**asdict(config), "attacks": str(config.attacks), "variant": config.variant},
        "seconds": round(seconds, 1),
        "replay": {
            "planned": run.planned,
            "skipped": run.skipped,
            "written": run.written,
            "failed": run.failed,
            "seconds": round(run.seconds, 1),
            "executor": run.executor,
        },
        "scored_by": scorer.identity,
        "rescored": rescored,
        "finished_at": datetime.now(UTC).isoformat(timespec="seconds"),
        **comparison.to_dict(),
    }
    (out_dir / "study.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return StudyResult(config, comparison, run, out_dir, seconds, rescored, rows)
