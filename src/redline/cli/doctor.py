"""``redline doctor``: what this installation can do (CPU, llama.cpp, models, database)."""

from __future__ import annotations

import json

import typer
from rich.table import Table
from rich.text import Text

from redline.cli.app import app, console, state


@app.command()
def doctor(
    ctx: typer.Context,
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object for scripts."),
    check: bool = typer.Option(
        True,
        "--check/--no-check",
        help="Run llama.cpp's self-check (a tiny decode in a child process) if none is cached.",
    ),
) -> None:
    """Check the installation: CPU features, the llama.cpp CPU variant loaded, built-in
    model weights, database reachability and schema, optional extras.

    Exits 1 when something needs fixing (each line says how).

    Example: redline doctor --json
    """
    from redline.doctor import diagnose

    report = diagnose(state(ctx).settings, check_llama=check)
    if as_json:
        console.print_json(json.dumps(report.as_dict()))
    else:
        console.print(f"CPU: {report.cpu['model']}", highlight=False)
        console.print(f"flags: {' '.join(report.cpu['flags']) or 'none of note'}")
        llama = report.llama
        if llama.get("version"):
            console.print(
                f"llama-cpp-python {llama['version']} in {llama.get('lib_dir')}; variants: "
                f"{', '.join(llama.get('variants', [])) or 'none (one built-in CPU backend)'}",
                highlight=False,
            )
        table = Table(show_header=False, box=None)
        for item in report.checks:
            mark = "[green]ok[/]" if item.ok else "[bold red]FIX[/]"
            table.add_row(mark, Text(item.name), Text(item.detail))
        console.print(table)
    if not report.ok:
        raise typer.Exit(1)
