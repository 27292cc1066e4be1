"""The Typer application and what every command shares: settings, the store, errors.

Command modules register themselves on :data:`app` (one module per command group).
Any :class:`RedlineError` becomes a one-line message on stderr and exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from typer.core import TyperGroup

from redline.config import Settings, load_settings
from redline.errors import RedlineError
from redline.store import Store

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def progress() -> Progress:
    """The progress bar of long commands: on stderr, so stdout stays machine-readable."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=True,
    )


class RedlineGroup(TyperGroup):
    """Turns RedlineError into a clear message and exit code 2 for every subcommand."""

    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except RedlineError as exc:
            err_console.print(f"[bold red]error:[/] {exc}", markup=True, highlight=False)
            ctx.exit(2)


app = typer.Typer(
    cls=RedlineGroup,
    help="Redline: red-team language models with people and machines, and learn from it.",
    no_args_is_help=True,
    pretty_exceptions_show_locals=False,  # locals may hold tokens or API keys
    rich_markup_mode="markdown",
)


class State:
    """Per-invocation settings and a lazily opened store."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            self._store = Store(self.settings.db_url)
        return self._store


@app.callback()
def _main(
    ctx: typer.Context,
    data_dir: Path | None = typer.Option(
        None, "--data-dir", help="Data directory (default ./.redline; env REDLINE_DATA_DIR)."
    ),
    db_url: str | None = typer.Option(
        None, "--db-url", help="Database URL (default SQLite in the data dir; env REDLINE_DB_URL)."
    ),
    targets: Path | None = typer.Option(
        None, "--targets", help="TOML file with extra targets (env REDLINE_TARGETS)."
    ),
    llama_weights: str | None = typer.Option(
        None,
        "--llama-weights",
        help="Weights llama.cpp runs: auto (default), shipped, bf16, f16 or q8_0 "
        "(env REDLINE_LLAMA_WEIGHTS).",
    ),
) -> None:
    ctx.obj = State(
        load_settings(
            data_dir=data_dir, db_url=db_url, targets_file=targets, llama_weights=llama_weights
        )
    )


def state(ctx: typer.Context) -> State:
    obj = ctx.find_object(State)
    assert obj is not None, "the app callback sets the state"
    return obj
