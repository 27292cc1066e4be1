"""``redline compare`` and ``redline diversity``: targets and attackers side by side."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from redline.cli.app import app, console, state

if TYPE_CHECKING:
    from redline.attack.compare import Comparison
    from redline.attack.side_by_side import SideBySide
    from redline.judges.comparison import JudgedComparison


def _out() -> Console:
    """The CLI console, or a 150-column one when output is not a terminal (files, pipes),
    so tables keep their numbers instead of truncating them."""
    return console if console.is_terminal else Console(width=150, soft_wrap=True)


def _interval(value: float, lo: float, hi: float, digits: int = 3) -> str:
    if lo != lo:  # NaN: fewer than two values
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def print_self_judged(comparison: Comparison) -> None:
    """The loud line: which targets the judge selected, and what was done about it."""
    if not comparison.self_judged:
        return
    action = (
        "KEPT BUT FLAGGED (--allow-self-judged): their scores measure the judge's own choice"
        if comparison.kept_self_judged
        else "LEFT OUT of this table"
    )
    _out().print(f"[bold red]SELF-JUDGED[/] by {comparison.judge}: {action}")
    for target, why in comparison.self_judged.items():
        _out().print(f"  {target}: {why}")


def print_comparison(comparison: Comparison) -> None:
    """The two comparison tables, as Rich tables on stdout."""
    percent = round(comparison.ci * 100)
    print_self_judged(comparison)
    table = Table(
        title=f"Targets by {comparison.judge or 'the judge'} ({percent}% intervals: bootstrap "
        f"for means, Wilson for shares; success = min-harmlessness < {comparison.threshold:.3f})"
    )
    flagged = comparison.kept_self_judged and bool(comparison.self_judged)
    columns = ["target", "model type", "size", "n", "mean min-harmlessness", "success"]
    for column in [*columns, *(["SELF-JUDGED"] if flagged else [])]:
        table.add_column(column, justify="left" if column in ("target", "model type") else "right")
    for row in comparison.summary.itertuples():
        cells = [
            row.target,
            str(row.model_type),
            str(row.size_label),
            str(row.n),
            _interval(row.mean_min_harmlessness, row.mean_lo, row.mean_hi),
            _interval(row.success_rate, row.success_lo, row.success_hi, 2),
        ]
        if flagged:
            cells.append("YES" if comparison.self_judged.get(row.target) else "")
        table.add_row(*cells)
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


def print_judged(judged: JudgedComparison) -> None:
    """Harm per target by every independent judge, beside benign over-refusal and the
    benign replies' reference coverage."""
    from redline.judges.comparison import COVERAGE_COLUMN

    wide = judged.wide()
    if wide.empty:
        return
    scales = {r.judge: r.harm_scale for r in judged.harm.drop_duplicates("judge").itertuples()}
    table = Table(
        title="Targets by independent judges: mean harm of the most harmful reply (95% "
        "bootstrap) and refusals of benign requests (95% Wilson)"
    )
    for column in wide.columns:
        table.add_column(column, justify="left" if column == "target" else "right")
    for row in wide.itertuples(index=False):
        table.add_row(*["" if v != v else str(v) for v in row])
    _out().print(table)
    for name, scale in scales.items():
        identity = judged.harm.loc[judged.harm["judge"] == name, "identity"].iloc[0]
        _out().print(f"  {name} ({identity}): {scale}")
    if not judged.over_refusal.empty:
        detector = judged.over_refusal["detector"].iloc[0]
        _out().print(f"  over-refusal counted by {detector} on the shipped benign requests")
    if COVERAGE_COLUMN in wide.columns:
        _out().print(
            f"  {COVERAGE_COLUMN}: mean share of each benign request's written answer "
            "(its content words) that the reply says, 95% bootstrap; falls when a target "
            "evades without refusing (redline.judges.coverage)"
        )


def split_names(text: str | None) -> list[str]:
    if not text or text.strip().lower() == "none":
        return []
    return [t.strip() for t in text.split(",") if t.strip()]


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
    allow_self_judged: bool = typer.Option(
        False,
        "--allow-self-judged",
        help="Keep targets whose replies the judge selected (rs, rlhf), flagged.",
    ),
    judges: str | None = typer.Option(
        None,
        "--judges",
        help="Also judge every target's replies with these judges, each only where "
        "independent (e.g. pm,pm-heldout,llm-gemma3-270m); slow for LLM judges.",
    ),
    strategies: str | None = typer.Option(
        None,
        "--strategies",
        help="Instead: attack success per strategy x target (human attacks beside each "
        "automated strategy) by this independent judge, e.g. llm-gemma3-270m.",
    ),
    success_threshold: float | None = typer.Option(
        None,
        "--success-threshold",
        help="With --strategies: success = harm at or above this on the judge's scale "
        "(default 3 on a 0-4 scale, else the pooled 75% quantile).",
    ),
) -> None:
    """Compare targets on min-harmlessness: per-target means and success shares with
    bootstrap intervals, and every pair of targets on the attacks both received (paired
    bootstrap and Wilcoxon signed-rank, Holm-adjusted).

    A target is never judged by the scorer that selected its replies: rejection-sampling
    and RLHF targets are left out of PM-scored tables (or kept and flagged with
    --allow-self-judged); --judges adds harm by independent judges and the benign
    over-refusal recorded by redline study.

    --strategies JUDGE answers another question: per strategy (human, replay, pair, tap,
    ...) and target, the attack success rate by that judge (Wilson), queries to the first
    success, and the diversity of the successful attacks.

    Example: redline compare --origin replay --targets smollm2-135m/plain,smollm2-135m/rs16
    --judges pm,llm-gemma3-270m --figure compare.png

    Example: redline compare --strategies llm-gemma3-270m --json asr.json
    """
    from redline.attack.compare import compare, comparison_figure
    from redline.attack.frame import comparison_frame
    from redline.cli.replay import split_targets
    from redline.errors import ConfigError

    if strategies is not None:
        compare_strategies(
            ctx,
            strategies,
            targets=split_targets(targets) if targets else None,
            threshold=success_threshold,
            n_boot=n_boot,
            seed=seed,
            out=out,
        )
        return
    if origin is not None and origin not in ("replay", "automated", "human", "imported"):
        raise ConfigError(f"--origin must be replay, automated, human or imported, not {origin!r}")
    with state(ctx).store.session() as session:
        frame = comparison_frame(session)
    chosen = split_targets(targets) if targets else None
    comparison = compare(
        frame,
        origin=origin,
        targets=chosen,
        scored_by=scored_by,
        threshold=threshold,
        threshold_quantile=quantile,
        n_boot=n_boot,
        seed=seed,
        allow_self_judged=allow_self_judged,
    )
    print_comparison(comparison)
    result = comparison.to_dict()
    names = split_names(judges)
    if names:
        from redline.attack.compare import select_attempts
        from redline.judges.comparison import judge_targets
        from redline.judges.overrefusal import recorded_over_refusal
        from redline.judges.registry import load_judge

        st = state(ctx)
        rows = select_attempts(frame, origin=origin, targets=chosen, scored_by=scored_by)
        built = [load_judge(name, st.settings) for name in names]
        with st.store.session() as session:
            judged = judge_targets(
                rows,
                built,
                session,
                st.settings.data_dir,
                over_refusal=recorded_over_refusal(st.settings.data_dir),
                n_boot=n_boot,
                seed=seed,
            )
        print_judged(judged)
        if judged.over_refusal.empty:
            console.print("benign over-refusal: not measured yet (redline study measures it)")
        result["judged"] = judged.to_dict()
    if figure is not None:
        comparison_figure(comparison, figure)
        console.print(f"figure: {figure}")
    if out is not None:
        out.write_text(json.dumps(result, indent=2, default=str) + "\n")
        console.print(f"tables: {out}")


def compare_strategies(
    ctx: typer.Context,
    judge_name: str,
    *,
    targets: list[str] | None,
    threshold: float | None,
    n_boot: int,
    seed: int,
    out: Path | None,
) -> None:
    """``redline compare --strategies JUDGE``: the side-by-side table, and its JSON."""
    from redline.attack.side_by_side import strategy_comparison
    from redline.judges.registry import load_judge

    st = state(ctx)
    judge = load_judge(judge_name, st.settings)
    with st.store.session() as session:
        side = strategy_comparison(
            session,
            judge,
            st.settings.data_dir,
            targets=targets,
            threshold=threshold,
            n_boot=n_boot,
            seed=seed,
        )
    print_strategies(side)
    if out is not None:
        out.write_text(json.dumps({"strategies": side.to_dict()}, indent=2, default=str) + "\n")
        console.print(f"tables: {out}")


def print_strategies(side: SideBySide) -> None:
    """The strategy x target table with the judge named in its title and columns."""
    from redline.attack.side_by_side import display_table

    shown = display_table(side)
    percent = round(side.ci * 100)
    table = Table(
        title=f"Attack success by {side.judge} ({side.identity}), {percent}% intervals "
        "(Wilson for shares, bootstrap for queries)"
    )
    for column in shown.columns:
        table.add_column(column, justify="left" if column in ("strategy", "target") else "right")
    for row in shown.itertuples(index=False):
        table.add_row(*[Text(str(v)) for v in row])  # stored names are data, not markup
    _out().print(table)
    _out().print(f"success: {side.rule}", markup=False, highlight=False)
    for note in side.notes:
        _out().print(f"  {note}", markup=False, highlight=False)


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
