"""Every command's ``--help`` as a user reads it: nothing lost in rendering, no made-up
options, commands in task order, and no heavy library imported just to show it."""

from __future__ import annotations

import re
import subprocess
import sys
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from redline.cli import app
from redline.cli.app import TASKS

ROOT = typer.main.get_command(app)
OPTION = re.compile(r"(?<![\w-])--[a-z][a-z0-9-]*")
MENTION = re.compile(r"redline((?: [a-z][a-z-]*)+)")
# Markdown emphasis and code marks that the help renderer turns into styles.
MARKUP = str.maketrans("", "", "*`")


def _commands(group: Any = ROOT, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Any]:
    found: dict[tuple[str, ...], Any] = {path: group}
    ctx = typer.Context(group)
    for name in getattr(group, "list_commands", lambda _ctx: [])(ctx):
        found.update(_commands(group.get_command(ctx, name), (*path, name)))
    return found


COMMANDS = _commands()


def _options(command: Any) -> set[str]:
    return {opt for param in command.params for opt in [*param.opts, *param.secondary_opts]}


def _source_texts(command: Any) -> list[str]:
    texts = [command.help or ""]
    texts += [param.help for param in command.params if getattr(param, "help", None)]
    return texts


def _render(path: tuple[str, ...]) -> str:
    result = CliRunner().invoke(app, [*path, "--help"], env={"COLUMNS": "200"}, terminal_width=200)
    assert result.exit_code == 0, result.output
    return result.output


def _ids(paths: Any) -> list[str]:
    return [" ".join(p) or "redline" for p in paths]


@pytest.mark.parametrize("path", list(COMMANDS), ids=_ids(COMMANDS))
def test_help_renders_every_word_it_was_given(path: tuple[str, ...]) -> None:
    """Markdown rendering drops what it reads as HTML ("cli-<user>" became "cli-"): every
    whitespace-separated word of the docstring and of each option's help must appear, in
    order, in what the user sees."""
    rendered = _render(path).translate(MARKUP).replace("│", " ").split()
    for text in _source_texts(COMMANDS[path]):
        position = 0
        for word in text.translate(MARKUP).split():
            try:
                position = rendered.index(word, position) + 1
            except ValueError:
                pytest.fail(f"`redline {' '.join(path)} --help` lost {word!r} of: {text!r}")


@pytest.mark.parametrize("path", list(COMMANDS), ids=_ids(COMMANDS))
def test_help_mentions_only_options_that_exist(path: tuple[str, ...]) -> None:
    """An option named in a help text exists on that command, on `redline` itself, or on
    a command the same text names ("redline pm train --pairs ...")."""
    allowed = _options(COMMANDS[path]) | _options(ROOT)
    for text in _source_texts(COMMANDS[path]):
        for mention in MENTION.findall(text):
            words = tuple(mention.split())
            while words and words not in COMMANDS:
                words = words[:-1]
            if words:
                allowed |= _options(COMMANDS[words])
        for option in OPTION.findall(text):
            assert option in allowed, f"`redline {' '.join(path)} --help` names {option}: {text!r}"


def test_top_level_help_lists_every_command_once_by_task() -> None:
    named = [name for names in TASKS.values() for name in names]
    assert len(named) == len(set(named))
    assert sorted(named) == sorted(ROOT.list_commands(typer.Context(ROOT)))
    headings = [line for line in _render(()).splitlines() if line.startswith("╭─")]
    shown = [heading.strip("╭─╮ ") for heading in headings]
    assert shown == ["Options", *TASKS]


HEAVY = (
    "pandas",
    "numpy",
    "sqlalchemy",
    "alembic",
    "sklearn",
    "scipy",
    "statsmodels",
    "matplotlib",
    "llama_cpp",
    "torch",
    "fastapi",
    "httpx",
    "presidio_analyzer",
)


def test_loading_the_cli_imports_no_heavy_library() -> None:
    """`--help` must answer at once (benchmarks/cli_startup_bench.py measures it): the
    command modules import heavy libraries inside the commands that use them."""
    code = f"import sys, redline.cli; print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == []
