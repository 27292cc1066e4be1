"""``redline score``: harmlessness scores for the attempts in the store."""

from __future__ import annotations

from pathlib import Path

import typer

from redline.cli.app import app, console, err_console, progress, state


@app.command("score")
def score(
    ctx: typer.Context,
    rescore: bool = typer.Option(False, "--rescore", help="Score every attempt again."),
    model: Path | None = typer.Option(
        None, "--model", help="PM .json file (default: REDLINE_PM or the packaged model)."
    ),
    batch_size: int = typer.Option(25, "--batch-size", help="Attempts per committed batch."),
    pairs: bool = typer.Option(
        False,
        "--pairs",
        help="Also score imported comparison pairs (records without a target); "
        "no analysis reads their scores.",
    ),
) -> None:
    """Score every unscored red-team attempt: each assistant utterance given everything
    before it, the min and mean per attempt, and the task description.

    It says what it will score before it starts and shows the time remaining as it goes.
    Work is committed every --batch-size attempts, so an interrupted run (Ctrl-C) keeps
    what it scored and the next run continues.

    Example: redline score --rescore
    """
    from redline.harmlessness import PreferenceModelScorer, default_pm_path
    from redline.harmlessness.store_scoring import attempts_to_score, score_store

    st = state(ctx)
    scorer = PreferenceModelScorer.from_file(
        model or default_pm_path(st.settings), cache_dir=st.settings.cache_dir / "features"
    )
    ids = attempts_to_score(st.store, rescore=rescore, pairs=pairs)
    left_out = (
        0 if pairs else len(attempts_to_score(st.store, rescore=rescore, pairs=True)) - len(ids)
    )
    what = "records (attempts and comparison pairs)" if pairs else "red-team attempts"
    plan = f"scoring {len(ids)} {what}"
    if left_out:
        plan += (
            f"; {left_out} comparison pairs left out (no analysis reads them; --pairs scores them)"
        )
    err_console.print(plan, highlight=False, markup=False)
    with progress() as bar:
        task = bar.add_task("scoring", total=len(ids))
        report = score_store(
            st.store,
            scorer,
            batch_size=batch_size,
            attempt_ids=ids,
            progress=lambda n: bar.advance(task, n),
        )
    skipped = ", ".join(f"{n} {why}" for why, n in report.skipped.items()) or "none"
    console.print(
        f"scored {report.attempts} attempts ({report.utterances} utterances, "
        f"{report.task_descriptions} task descriptions) with {report.scored_by}; "
        f"skipped: {skipped}"
    )
