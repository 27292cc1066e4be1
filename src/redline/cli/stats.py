"""``redline stats``: attempts per model type x size, the shape of the paper's Table 1."""

from __future__ import annotations

import json
from dataclasses import asdict
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from redline.cli.app import app, console, state

if TYPE_CHECKING:
    from redline.analysis.cells import TableOne


def _fmt(value: float | None) -> str:
    return "-" if value is None else f"{value:.3f}"


@app.command()
def stats(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array for machines."),
) -> None:
    """Attempts per model type x size with mean rating and mean min-harmlessness.

    Example: redline stats --json
    """
    from redline.analysis.cells import table_one

    with state(ctx).store.session() as session:
        table = table_one(session)
    if as_json:
        typer.echo(json.dumps([asdict(cell) for cell in table.cells]))
        return
    if not table.cells:
        console.print(
            "The store holds no attempts with a known target yet. Try: redline import FILE"
        )
        _print_others(table)
        return
    out = Table(title="Red-team attempts by model type and size")
    out.add_column("model type", no_wrap=True)
    for name in ("size", "n", "mean rating", "mean min harmlessness", "scored"):
        out.add_column(name, justify="right")
    for cell in table.cells:
        out.add_row(
            cell.model_type,
            cell.size_label,
            str(cell.n),
            _fmt(cell.mean_rating),
            _fmt(cell.mean_min_harmlessness),
            str(cell.n_scored),
        )
    total = sum(cell.n for cell in table.cells)
    out.add_row("all", "", str(total), "", "", str(sum(cell.n_scored for cell in table.cells)))
    console.print(out)
    origins = ", ".join(f"{name} {n:,}" for name, n in sorted(table.origins.items()))
    console.print(f"Origins of these {total:,} attempts: {origins}.", highlight=False)
    _print_others(table)


def _print_others(table: TableOne) -> None:
    """Say what the table does not count, as the report's header does."""
    if table.without_target:
        console.print(
            f"Not counted: {table.without_target:,} records without a target (imported "
            "comparison pairs); no analysis counts them.",
            highlight=False,
        )
