"""``redline targets``: which named targets this configuration can build."""

from __future__ import annotations

import json

import typer
from rich.table import Table

from redline.cli.app import app, console, state


@app.command("targets")
def targets(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print a JSON array instead of a table."),
) -> None:
    """List built-in targets and those from redline.toml or --targets FILE (nothing is loaded).

    Example: redline --targets my_targets.toml targets --json
    """
    from redline.targets.registry import target_definitions

    definitions = list(target_definitions(state(ctx).settings).values())
    if as_json:
        rows = [
            {
                "name": d.info.name,
                "family": d.info.family,
                "size_label": d.info.size_label,
                "num_params": d.info.num_params,
                "model_type": d.info.model_type,
                "defence": d.info.defence,
                "backend": d.backend,
                "model": d.model,
                "source": d.source,
            }
            for d in definitions
        ]
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table(title=f"{len(definitions)} targets")
    table.add_column("name", no_wrap=True)
    table.add_column("model type", no_wrap=True)
    for column in ("size", "backend", "defence"):
        table.add_column(column)
    for d in definitions:
        table.add_row(d.info.name, d.info.model_type, d.info.size_label, d.backend, d.info.defence)
    console.print(table)
