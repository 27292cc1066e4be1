"""``redline agreement``: how much reviewers (and authors) agree, and the tag counts."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from redline.cli.app import app, console, state


@app.command()
def agreement(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print everything as one JSON object."),
    raters: int | None = typer.Option(
        None, "--raters", help="Reviewer ratings per item for Fleiss (default: the most common)."
    ),
    replicates: int = typer.Option(1000, "--bootstrap", help="Bootstrap replicates for the CIs."),
    seed: int = typer.Option(0, "--seed", help="Seed of the bootstrap."),
) -> None:
    """Fleiss' kappa (0-4 and binarised at >= 3, with and without the red teamer's own
    rating) with bootstrap 95% intervals over items, Krippendorff's ordinal alpha, and tag
    counts from reviews and imported hh-rlhf tags.

    Example: redline agreement --json
    """
    from redline.review import agreement_report, review_config

    settings = state(ctx).settings
    report = agreement_report(
        state(ctx).store, review_config(settings).tags, k=raters, n_boot=replicates, seed=seed
    )
    if as_json:
        typer.echo(json.dumps(report))
        return
    p = report["progress"]
    console.print(
        f"{report['items_with_reviews']} attempts with reviews; {p['done']} reviews done, "
        f"{p['skipped']} skipped, {p['open']} open"
    )
    ag = report["agreement"]
    table = Table(title=f"Agreement ({ag['reviewers_per_item']} reviewers per item; 95% CI)")
    table.add_column("statistic")
    table.add_column("reviewers only")
    table.add_column("with the red teamer")
    table.add_column("paper", justify="right")
    from redline.review.agreement import STATISTICS, format_estimate

    for key, label, paper_key, _ in STATISTICS:
        paper = "" if paper_key is None else f"{report['paper'][paper_key]:.2f}"
        cells = [format_estimate(ag[f"{key}_{who}"], 3) for who in ("reviewers", "with_author")]
        table.add_row(label, *cells, paper)
    console.print(table)
    tags = Table(title="Tags")
    tags.add_column("tag")
    for name in ("reviews", "imported", "total", "successful"):
        tags.add_column(name, justify="right")
    for row in report["tags"]:
        if row["total"] == 0:
            continue
        name = row["tag"] if row["in_vocabulary"] else f"{row['tag']} (not in vocabulary)"
        tags.add_row(
            name,
            str(row["reviews"]),
            str(row["imported"]),
            str(row["total"]),
            str(row["successful"]),
        )
    if tags.row_count:
        console.print(tags)
    else:
        console.print("No tags yet.")
