"""``redline import`` and ``redline export``: hh-rlhf files in and out."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import (
    TaskID,
)

from redline.cli.app import app, console, err_console, progress, state
from redline.datasets import (
    ExportFormat,
    comparison_records,
    import_file,
    red_team_records,
    write_records,
)

export_app = typer.Typer(help="Export the store in the hh-rlhf formats.", no_args_is_help=True)
app.add_typer(export_app, name="export")


@app.command("import")
def import_(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="hh-rlhf files (.json, .jsonl, optionally .gz)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate only; write nothing."),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Skip bad records (listed) instead of rejecting the file."
    ),
) -> None:
    """Import red-team attempts or comparison pairs (the kind is detected from the content).

    Each file is one transaction: a bad record rejects the whole file and writes nothing.
    Records already in the store (same content) are skipped.

    Example: redline import red_team_attempts.jsonl.gz
    """
    store = state(ctx).store
    for path in paths:
        with progress() as bar:
            task = bar.add_task(f"importing {path.name}", total=None)

            def show(done: int, total: int, task: TaskID = task) -> None:
                bar.update(task, completed=done, total=total)

            report = import_file(
                store, path, dry_run=dry_run, skip_invalid=skip_invalid, progress=show
            )
        verb = "would add" if dry_run else "added"
        console.print(
            f"{path}: {report.records} {report.kind.value} records, {verb} {report.added}, "
            f"{report.duplicates} already stored, {len(report.invalid)} invalid skipped"
        )
        for problem in report.invalid[:20]:
            err_console.print(f"  skipped: {problem}", highlight=False, markup=False)


def _export(records_kind: str, ctx: typer.Context, out: Path, fmt: ExportFormat) -> None:
    store = state(ctx).store
    with store.session() as session:
        records = (
            red_team_records(session) if records_kind == "red-team" else comparison_records(session)
        )
        count = write_records(records, out, fmt)
    console.print(f"wrote {count} records to {out}")


FORMAT = typer.Option(
    ExportFormat.JSONL, "--format", help="jsonl (one object per line) or json-array."
)


@export_app.command("red-team-attempts")
def export_red_team(
    ctx: typer.Context,
    out: Path = typer.Argument(..., help="Output file: .jsonl, .jsonl.gz, .json ..."),
    fmt: ExportFormat = FORMAT,
) -> None:
    """Finished attempts in the published red-team-attempts layout.

    Example: redline export red-team-attempts attempts.jsonl.gz --format json-array
    """
    _export("red-team", ctx, out, fmt)


@export_app.command("comparisons")
def export_comparisons(
    ctx: typer.Context,
    out: Path = typer.Argument(..., help="Output file: .jsonl or .jsonl.gz."),
    fmt: ExportFormat = FORMAT,
) -> None:
    """Every pick as (chosen, rejected) pairs; chosen is the less harmful reply.

    Example: redline export comparisons picks.jsonl
    """
    _export("comparisons", ctx, out, fmt)
