"""The Typer application and what every command shares: settings, the store, errors.

Command modules register themselves on :data:`app` (one module per command group).
Any :class:`RedlineError` becomes a one-line message on stderr and exit code 2.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TextColumn,
    TimeElapsedColumn,
    TimeRemainingColumn,
)
from typer.core import TyperGroup

from redline.config import Settings, load_settings
from redline.errors import RedlineError

if TYPE_CHECKING:
    from redline.store import Store

console = Console(soft_wrap=True)
err_console = Console(stderr=True, soft_wrap=True)


def progress() -> Progress:
    """The progress bar of long commands, with the time left: on stderr, so stdout stays
    machine-readable."""
    return Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("left"),
        TimeRemainingColumn(),
        console=err_console,
        transient=True,
    )


#: ``redline --help`` lists the commands by task, in a user's order of work. Every command
#: is named here once (a test checks), so its place in the help is decided in one place.
TASKS: dict[str, tuple[str, ...]] = {
    "Data": ("import", "export", "stats", "db"),
    "Red teaming": ("targets", "chat", "serve"),
    "Preference model": ("pm", "score", "train"),
    "Review": ("review", "agreement"),
    "Analysis and release": ("report", "judge", "release"),
    "Machines: automated red teaming": ("attack", "replay", "compare", "study", "diversity"),
    "Setup": ("doctor",),
}
_TASK_ORDER = [name for names in TASKS.values() for name in names]


class RedlineGroup(TyperGroup):
    """The top-level command: commands listed by task, RedlineError as a one-line message.

    Any :class:`RedlineError` from a subcommand becomes a clear message and exit code 2.
    """

    def list_commands(self, ctx: Any) -> list[str]:
        names = super().list_commands(ctx)
        return sorted(names, key=lambda n: _TASK_ORDER.index(n) if n in _TASK_ORDER else len(names))

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


def group_commands_by_task() -> None:
    """Put each registered command under its task's heading in ``redline --help``."""
    panel = {name: task for task, names in TASKS.items() for name in names}
    for command in app.registered_commands:
        name = command.name or typer.main.get_command_name(command.callback.__name__)  # type: ignore[union-attr]
        command.rich_help_panel = panel.get(name)
    for group in app.registered_groups:
        group.rich_help_panel = panel.get(group.name or "")


class State:
    """Per-invocation settings and a lazily opened store."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._store: Store | None = None

    @property
    def store(self) -> Store:
        if self._store is None:
            from redline.store import Store  # SQLAlchemy and Alembic: only when a command asks

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
