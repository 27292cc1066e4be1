"""``redline review``: assign the review task, and read the reviewers' well-being surveys."""

from __future__ import annotations

import json
from dataclasses import asdict

import typer
from rich.table import Table

from redline.cli.app import app, console, state

review_app = typer.Typer(
    help="The review task: assign attempts to reviewers, see well-being surveys.",
    no_args_is_help=True,
)
app.add_typer(review_app, name="review")


@review_app.command("assign")
def assign(
    ctx: typer.Context,
    per_target: int = typer.Option(500, "--per-target", help="Attempts sampled per target."),
    reviewers: int = typer.Option(3, "--reviewers", help="Distinct reviewers per attempt."),
    targets: list[str] = typer.Option(
        None, "--targets", help="Only these targets (repeat the flag); default: every target."
    ),
    seed: int | None = typer.Option(None, "--seed", help="Seed for a reproducible sample."),
    as_json: bool = typer.Option(False, "--json", help="Print the report as JSON."),
) -> None:
    """Sample finished attempts per target and give each R reviewers (never the author),
    balancing the load. Running it again tops up; it never duplicates.

    Example: redline review assign --per-target 500 --reviewers 3 --seed 1
    """
    from redline.review import assign_reviews

    report = assign_reviews(
        state(ctx).store,
        per_target=per_target,
        reviewers=reviewers,
        targets=targets or None,
        seed=seed,
    )
    if as_json:
        typer.echo(
            json.dumps({"targets": [asdict(t) for t in report.targets], "load": report.load})
        )
        return
    table = Table(title="Review assignment")
    table.add_column("target", no_wrap=True)
    for name in ("finished", "in sample", "newly sampled", "new reviews", "unfilled"):
        table.add_column(name, justify="right")
    for t in report.targets:
        table.add_row(
            t.target,
            str(t.finished),
            str(t.sampled),
            str(t.added_attempts),
            str(t.added_reviews),
            str(t.short),
        )
    console.print(table)
    if report.load:
        loads = sorted(report.load.values())
        console.print(
            f"{len(loads)} reviewers, {loads[0]}-{loads[-1]} active reviews each "
            f"({report.added_reviews} added now)"
        )
    if report.short:
        console.print(
            f"[yellow]{report.short} reviewer places stay empty: too few eligible reviewers "
            "(authors never review their own attempts). Invite more and run again.[/]"
        )


@review_app.command("wellbeing")
def wellbeing(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print the summary as JSON."),
) -> None:
    """Mean of each feeling (0-4) over the reviewers' well-being surveys, and the comments.

    Example: redline review wellbeing --json
    """
    from redline.review import wellbeing_summary

    summary = wellbeing_summary(state(ctx).store)
    if as_json:
        typer.echo(json.dumps(summary))
        return
    console.print(
        f"{summary['surveys']} surveys from {summary['people']} people "
        f"({summary['answered']} answered, {summary['declined']} declined)"
    )
    table = Table(title="Feelings (0 not at all - 4 extremely)")
    table.add_column("feeling")
    table.add_column("mean", justify="right")
    table.add_column("answers", justify="right")
    for row in summary["feelings"]:
        mean = "-" if row["mean"] is None else f"{row['mean']:.2f}"
        table.add_row(row["feeling"], mean, str(row["n"]))
    console.print(table)
    for c in summary["comments"]:
        console.print(f"{c['when']} {c['handle']}: {c['comment']}", markup=False, highlight=False)
