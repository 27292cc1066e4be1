"""``redline release``: the hh-rlhf export with PII redacted, a datasheet and a README."""

from __future__ import annotations

from pathlib import Path

import typer

from redline.cli.app import app, console, state


@app.command()
def release(
    ctx: typer.Context,
    out_dir: Path = typer.Argument(..., help="Folder for the release files (created if needed)."),
) -> None:
    """Export finished attempts with PII redacted, plus DATASHEET.md and README.md.

    Example: redline release ./release
    """
    from redline.analysis.collection import collection_facts
    from redline.datasets.release import build_release

    with console.status("building the release"), state(ctx).store.session() as session:
        report = build_release(session, out_dir, collection_facts(session))
    console.print(
        f"wrote {report.records} records to {out_dir}; {report.records_redacted} records had PII "
        "redacted: "
        + (", ".join(f"{k} {v}" for k, v in sorted(report.redactions.items())) or "none")
    )
