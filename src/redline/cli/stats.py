"""``redline stats``: attempts per model type x size, the shape of the paper's Table 1."""

from __future__ import annotations

import json
import math

import typer
from rich.table import Table

from redline.cli.app import app, console, state


def _fmt(value: float) -> str:
    return "-" if value is None or math.isnan(value) else f"{value:.3f}"


@app.command()
def stats(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array for machines."),
) -> None:
    """Attempts per model type x size with mean rating and mean min-harmlessness.

    Example: redline stats --json
    """
    from redline.analysis import attempts_frame, cell_summary
    from redline.analysis.tables import counts

    with state(ctx).store.session() as session:
        frame = attempts_frame(session)
    table = cell_summary(frame)
    counted = counts(frame)
    if as_json:
        rows = [
            {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in row.items()}
            for row in table.to_dict(orient="records")
        ]
        typer.echo(json.dumps(rows, default=lambda v: v.item() if hasattr(v, "item") else str(v)))
        return
    if table.empty:
        console.print(
            "The store holds no attempts with a known target yet. Try: redline import FILE"
        )
        _print_others(counted)
        return
    out = Table(title="Red-team attempts by model type and size")
    out.add_column("model type", no_wrap=True)
    for name in ("size", "n", "mean rating", "mean min harmlessness", "scored"):
        out.add_column(name, justify="right")
    for row in table.itertuples():
        out.add_row(
            str(row.model_type),
            str(row.size_label),
            str(row.n),
            _fmt(row.mean_rating),
            _fmt(row.mean_min_harmlessness),
            str(row.n_scored),
        )
    out.add_row("all", "", str(int(table["n"].sum())), "", "", str(int(table["n_scored"].sum())))
    console.print(out)
    origins = ", ".join(f"{name} {n:,}" for name, n in sorted(counted["origins"].items()))
    console.print(
        f"Origins of these {counted['n_attempts']:,} attempts: {origins}.", highlight=False
    )
    _print_others(counted)


def _print_others(counted: dict[str, object]) -> None:
    """Say what the table does not count, as the report's header does."""
    if counted["n_other"]:
        console.print(
            f"Not counted: {counted['n_other']:,} records without a target (imported "
            "comparison pairs); no analysis counts them.",
            highlight=False,
        )
