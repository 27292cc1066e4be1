"""``redline compare`` and ``redline diversity``: targets and attackers side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table

from redline.cli.app import app, console, state

if TYPE_CHECKING:
    from redline.attack.compare import Comparison


def _out() -> Console:
    """The CLI console, or a 150-column one when output is not a terminal (files, pipes),
    so tables keep their numbers instead of truncating them."""
    return console if console.is_terminal else Console(width=150, soft_wrap=True)


def _interval(value: float, lo: float, hi: float, digits: int = 3) -> str:
    if lo != lo:  # NaN: fewer than two values
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def print_comparison(comparison: Comparison) -> None:
    """The two comparison tables, as Rich tables on stdout."""
    percent = round(comparison.ci * 100)
    table = Table(
        title=f"Targets ({percent}% intervals: bootstrap for means, Wilson for shares; success = "
        f"min-harmlessness < {comparison.threshold:.3f})"
    )
    for column in ("target", "model type", "size", "n", "mean min-harmlessness", "success"):
        table.add_column(column, justify="left" if column in ("target", "model type") else "right")
    for row in comparison.summary.itertuples():
        table.add_row(
            row.target,
            str(row.model_type),
            str(row.size_label),
            str(row.n),
            _interval(row.mean_min_harmlessness, row.mean_lo, row.mean_hi),
            _interval(row.success_rate, row.success_lo, row.success_hi, 2),
        )
    _out().print(table)
    if comparison.paired.empty:
        return
    paired = Table(title="Paired on the same attacks: b - a (positive: b more harmless)")
    for column in ("a", "b", "pairs", "mean diff", "b better", "Wilcoxon p", "Holm p"):
        paired.add_column(column, justify="left" if column in ("a", "b") else "right")
    for row in comparison.paired.itertuples():
        paired.add_row(
            row.target_a,
            row.target_b,
            str(row.n_pairs),
            _interval(row.mean_diff, row.diff_lo, row.diff_hi),
            f"{row.b_more_harmless_share:.2f}",
            f"{row.p_value:.3g}",
            f"{row.p_holm:.3g}",
        )
    _out().print(paired)


@app.command("compare")
def compare_cmd(
    ctx: typer.Context,
    targets: str | None = typer.Option(
        None, "--targets", help="Comma-separated targets (default: every scored target)."
    ),
    origin: str | None = typer.Option(
        None, "--origin", help="Only attempts of this origin: replay, automated or human."
    ),
    threshold: float | None = typer.Option(
        None,
        "--threshold",
        help="Success = min-harmlessness below this (default: a quantile of all compared).",
    ),
    quantile: float = typer.Option(
        0.25, "--quantile", help="The pooled quantile used when --threshold is not given."
    ),
    scored_by: str | None = typer.Option(
        None, "--scored-by", help="Only scores of this judge (e.g. pm:9de77cb5c4559507)."
    ),
    n_boot: int = typer.Option(2000, "--n-boot", help="Bootstrap resamples."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    figure: Path | None = typer.Option(None, "--figure", help="Write the figure (PNG) here."),
    out: Path | None = typer.Option(None, "--json", help="Write both tables as JSON here."),
) -> None:
    """Compare targets on min-harmlessness: per-target means and success shares with
    bootstrap intervals, and every pair of targets on the attacks both received (paired
    bootstrap and Wilcoxon signed-rank, Holm-adjusted).

    Example: redline compare --origin replay --targets smollm2-135m/plain,smollm2-135m/rs16
    --figure compare.png
    """
    from redline.attack.compare import compare, comparison_figure
    from redline.attack.frame import comparison_frame
    from redline.cli.replay import split_targets
    from redline.errors import ConfigError

    if origin is not None and origin not in ("replay", "automated", "human", "imported"):
        raise ConfigError(f"--origin must be replay, automated, human or imported, not {origin!r}")
    with state(ctx).store.session() as session:
        frame = comparison_frame(session)
    comparison = compare(
        frame,
        origin=origin,
        targets=split_targets(targets) if targets else None,
        scored_by=scored_by,
        threshold=threshold,
        threshold_quantile=quantile,
        n_boot=n_boot,
        seed=seed,
    )
    print_comparison(comparison)
    if figure is not None:
        comparison_figure(comparison, figure)
        console.print(f"figure: {figure}")
    if out is not None:
        out.write_text(json.dumps(comparison.to_dict(), indent=2, default=str) + "\n")
        console.print(f"tables: {out}")


@app.command("diversity")
def diversity_cmd(
    ctx: typer.Context,
    per_group: int | None = typer.Option(
        None, "--per-group", help="Attacks per group (default: the smaller group's size)."
    ),
    permutations: int = typer.Option(2000, "--permutations", help="Permutation-test draws."),
    all_turns: bool = typer.Option(
        False, "--all-turns", help="Every human turn of an attempt, not only its opener."
    ),
    seed: int = typer.Option(0, "--seed", help="Sampling and layout seed."),
) -> None:
    """Human against automated attacks: embedding dispersion (mean pairwise cosine
    distance, permutation test) and coverage of clusters of the joint embedding (k-means)
    and of the joint attack map (HDBSCAN), on equal-size samples of each group's human
    turns.

    Example: redline diversity --per-group 100
    """
    from redline.attack.diversity import attack_texts, diversity
    from redline.store.models import Origin

    with state(ctx).store.session() as session:
        texts = attack_texts(
            session,
            [Origin.HUMAN, Origin.IMPORTED, Origin.AUTOMATED],
            first_turn_only=not all_turns,
        )
    result = diversity(texts, per_group=per_group, permutations=permutations, seed=seed)
    table = Table(title=f"Attack diversity ({result.per_group} attacks per group)")
    columns = (
        "group",
        "dispersion",
        "k-means clusters reached",
        "entropy (bits)",
        "attack-map clusters reached",
        "map noise share",
    )
    for column in columns:
        table.add_column(column, justify="left" if column == "group" else "right")
    for row in result.table.itertuples():
        table.add_row(
            row.group,
            f"{row.dispersion:.3f}",
            f"{row.clusters_reached} of {row.clusters_total}",
            f"{row.cluster_entropy_bits:.2f}",
            f"{row.map_clusters_reached} of {row.map_clusters_total}",
            f"{row.map_noise_share:.2f}",
        )
    _out().print(table)
    console.print(
        f"dispersion automated - human = {result.difference:+.3f} "
        f"(permutation p = {result.p_value:.3g})"
    )
