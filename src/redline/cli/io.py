"""``redline import`` and ``redline export``: hh-rlhf files in and out.

The dataset code (SQLAlchemy underneath) is imported inside the commands, so that
``redline --help`` and other commands do not pay for it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import typer

from redline.cli.app import app, console, err_console, progress, state
from redline.datasets.formats import ExportFormat

if TYPE_CHECKING:
    from redline.datasets.importer import ImportReport

export_app = typer.Typer(help="Export the store in the hh-rlhf formats.", no_args_is_help=True)
app.add_typer(export_app, name="export")


def _summary(path: Path, report: ImportReport) -> str:
    if report.kind is None:
        return f"{path}: no records (an empty file or array); nothing to import"
    verb = "would add" if report.dry_run else "added"
    return (
        f"{path}: {report.records} {report.kind.value} records, {verb} {report.added}, "
        f"{report.already_stored} already stored, {report.duplicates_in_file} repeated "
        f"within the file, {len(report.invalid)} invalid skipped"
    )


@app.command("import")
def import_(
    ctx: typer.Context,
    paths: list[Path] = typer.Argument(..., help="hh-rlhf files (.json, .jsonl, optionally .gz)."),
    dry_run: bool = typer.Option(False, "--dry-run", help="Validate only; write nothing."),
    skip_invalid: bool = typer.Option(
        False, "--skip-invalid", help="Skip bad records (listed) instead of rejecting the file."
    ),
    source: str = typer.Option(
        "hh-rlhf",
        "--source",
        help="Dataset the file's red_team_member_id values belong to (kept apart from "
        "Redline's own member numbers and from other sources).",
    ),
) -> None:
    """Import red-team attempts or comparison pairs (the kind is detected from the content).

    Each file is one transaction: a bad record rejects the whole file and writes nothing.
    Records already in the store (same content) are skipped.

    Example: redline import red_team_attempts.jsonl.gz
    """
    from rich.progress import TaskID

    from redline.datasets.importer import check_source, import_file

    check_source(source)
    store = state(ctx).store
    for path in paths:
        with progress() as bar:
            task = bar.add_task(f"importing {path.name}", total=None)

            def show(done: int, total: int, task: TaskID = task) -> None:
                bar.update(task, completed=done, total=total)

            report = import_file(
                store,
                path,
                dry_run=dry_run,
                skip_invalid=skip_invalid,
                progress=show,
                source=source,
            )
        console.print(_summary(path, report), highlight=False, markup=False)
        for problem in report.invalid[:20]:
            err_console.print(f"  skipped: {problem}", highlight=False, markup=False)
        if len(report.invalid) > 20:
            err_console.print(f"  ... and {len(report.invalid) - 20} more skipped")


def _export(
    records_kind: str, ctx: typer.Context, out: Path, fmt: ExportFormat, indent: int
) -> None:
    from redline.datasets.exporter import comparison_records, red_team_records, write_records

    store = state(ctx).store
    with store.session() as session:
        records = (
            red_team_records(session) if records_kind == "red-team" else comparison_records(session)
        )
        count = write_records(records, out, fmt, indent=indent)
    console.print(f"wrote {count} records to {out}", highlight=False, markup=False)


FORMAT = typer.Option(
    ExportFormat.JSONL, "--format", help="jsonl (one object per line) or json-array."
)
INDENT = typer.Option(
    2, "--indent", min=0, max=16, help="json-array only: spaces per level (2: the published file)."
)


@export_app.command("red-team-attempts")
def export_red_team(
    ctx: typer.Context,
    out: Path = typer.Argument(..., help="Output file: .jsonl, .jsonl.gz, .json ..."),
    fmt: ExportFormat = FORMAT,
    indent: int = INDENT,
) -> None:
    """Finished attempts in the published red-team-attempts layout.

    Example: redline export red-team-attempts attempts.jsonl.gz --format json-array
    """
    _export("red-team", ctx, out, fmt, indent)


@export_app.command("comparisons")
def export_comparisons(
    ctx: typer.Context,
    out: Path = typer.Argument(..., help="Output file: .jsonl or .jsonl.gz."),
    fmt: ExportFormat = FORMAT,
    indent: int = INDENT,
) -> None:
    """Every pick as (chosen, rejected) pairs; chosen is the less harmful reply.

    Example: redline export comparisons picks.jsonl
    """
    _export("comparisons", ctx, out, fmt, indent)
