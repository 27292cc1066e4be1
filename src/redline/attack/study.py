"""The paper's experiment in one call: model sizes x defences under one fixed attack set.

A seeded sample of distinct human openers (default: 100 from hh-rlhf harmless-base
pairs-a) is replayed against every target of the grid with short replies, every reply
scored by the preference model; then the targets are compared (intervals, paired tests)
and a Figure-1-style plot is drawn. The PM never judges a target whose replies it selected
(rs) or trained (rlhf): those targets are left out of the PM table, and every target is
also judged by the independent judges given (``judges``) and sent the shipped benign
requests, whose refusal rate (``detector``) stands beside harm (issue 15). Replays are
stored under a study variant, so a rerun resumes and a second study with the same
settings reuses every finished replay.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from sqlalchemy import select

from redline.attack.compare import (
    Comparison,
    compare,
    comparison_figure,
    self_judged_targets,
)
from redline.attack.executors import Executor
from redline.attack.frame import comparison_frame
from redline.attack.replay import plan_replay
from redline.attack.rescore import rescore, stale
from redline.attack.resumable import RunReport, run_jobs
from redline.attack.runtime import Runtime
from redline.attack.sources import first_turn_sample, import_attacks
from redline.config import Settings
from redline.data import harmless_base_pairs
from redline.errors import ConfigError
from redline.store import Store
from redline.store.models import Attempt, Origin

if TYPE_CHECKING:
    from redline.judges.base import Judge
    from redline.judges.comparison import JudgedComparison

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
    #: Benign requests sent to every target for over-refusal (0 = all shipped ones).
    benign_limit: int = 0

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
    judged: JudgedComparison | None = None


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
    judges: Sequence[Judge] = (),
    detector: Judge | None = None,
    data_dir: Path | None = None,
    log: Callable[[str], None] = lambda _m: None,
) -> StudyResult:
    """Replay the attack set against the grid, compare, and write the results folder
    (summary.csv, paired.csv, attempts.csv, study.json, figure.png). With ``judges`` and
    a refusal ``detector``, also judged.csv, overrefusal.csv and tradeoff.png: harm by
    every independent judge and benign over-refusal per target. Verdicts and benign
    replies are cached under ``data_dir``."""
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
    # A grid of only rs/rlhf targets has nothing the PM may judge: keep them, flagged.
    flagged = self_judged_targets(rows, scorer.identity)
    comparison = compare(
        rows,
        targets=config.targets,
        scored_by=scorer.identity,
        threshold=config.threshold,
        threshold_quantile=config.threshold_quantile,
        n_boot=config.n_boot,
        seed=config.seed,
        rs_scorer=scorer.identity,
        allow_self_judged=set(flagged) >= set(config.targets),
    )
    judged = None
    if judges or detector is not None:
        judged = _judge_study(
            store, runtime, config, rows, judges, detector, data_dir, scorer.identity, log
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
    if judged is not None:
        from redline.judges.comparison import tradeoff_figure

        judged.harm.to_csv(out_dir / "judged.csv", index=False)
        judged.over_refusal.to_csv(out_dir / "overrefusal.csv", index=False)
        tradeoff_figure(judged, out_dir / "tradeoff.png")
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
        "judged": judged.to_dict() if judged is not None else None,
    }
    (out_dir / "study.json").write_text(json.dumps(meta, indent=2, default=str) + "\n")
    return StudyResult(config, comparison, run, out_dir, seconds, rescored, rows, judged)


def _judge_study(
    store: Store,
    runtime: Runtime,
    config: StudyConfig,
    rows: pd.DataFrame,
    judges: Sequence[Judge],
    detector: Judge | None,
    data_dir: Path | None,
    rs_scorer: str,
    log: Callable[[str], None],
) -> JudgedComparison:
    """Independent judges on the study's replies; benign over-refusal of every target."""
    from redline.judges.comparison import judge_targets
    from redline.judges.overrefusal import measure_over_refusal

    over: dict[str, dict[str, Any]] = {}
    if detector is not None:
        for name in config.targets:
            log(f"benign requests -> {name}")
            over[name] = measure_over_refusal(
                runtime.target(name),
                detector,
                data_dir=data_dir,
                limit=config.benign_limit,
                seed=config.seed,
                max_tokens=config.max_tokens,
            )
    for judge in judges:
        log(f"judging the replies with {judge.info.name}")
    with store.session() as session:
        return judge_targets(
            rows,
            judges,
            session,
            data_dir,
            over_refusal=over,
            rs_scorer=rs_scorer,
            n_boot=config.n_boot,
            seed=config.seed,
        )
