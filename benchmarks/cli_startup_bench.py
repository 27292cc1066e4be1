"""CLI startup benchmark: how long a user waits for `--help` and `redline stats`.

Runs the installed ``redline`` command in a fresh process, as a user does: ``--help`` of
the top level and of every command and subcommand, then ``redline stats`` on a small
store (the 10-record hh-rlhf sample that the tests ship, imported into a temporary data
directory). Prints one JSON line per command (median wall seconds over --repeats runs)
and a summary line with the slowest of each kind.

Targets (issue 21), on an idle machine: every ``--help`` under 0.5 s, ``stats`` under 1 s.

Usage: python benchmarks/cli_startup_bench.py [--repeats 5]
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import typer
from common import emit

from redline.cli import app

SAMPLE = Path(__file__).resolve().parents[1] / "tests" / "data" / "red_team_attempts.sample.jsonl"
HELP_TARGET_S = 0.5
STATS_TARGET_S = 1.0


def command_paths(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    """Every command and subcommand, as the words a user types after ``redline``.

    Typer vendors its own click, so a group is recognised by what it does.
    """
    paths: list[tuple[str, ...]] = []
    ctx = typer.Context(group)
    for name in group.list_commands(ctx):
        command = group.get_command(ctx, name)
        if command is None or command.hidden:
            continue
        paths.append((*prefix, name))
        if hasattr(command, "list_commands"):
            paths.extend(command_paths(command, (*prefix, name)))
    return paths


def timed(argv: list[str], repeats: int) -> float:
    """Median wall seconds of ``argv`` in a fresh process; fails loudly if it fails."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    redline = str(Path(sys.executable).with_name("redline"))
    helps: dict[tuple[str, ...], float] = {("--help",): timed([redline, "--help"], args.repeats)}
    for path in command_paths(typer.main.get_command(app)):
        helps[(*path, "--help")] = timed([redline, *path, "--help"], args.repeats)
    for words, seconds in helps.items():
        emit("cli_startup", "help_wall", seconds, "s", command=" ".join(words))
    with tempfile.TemporaryDirectory() as tmp:
        base = [redline, "--data-dir", tmp]
        subprocess.run([*base, "import", str(SAMPLE)], check=True, stdout=subprocess.DEVNULL)
        stats = timed([*base, "stats"], args.repeats)
    emit("cli_startup", "stats_wall", stats, "s", command="stats", attempts=10)
    slowest = max(helps, key=helps.__getitem__)
    emit(
        "cli_startup",
        "help_wall_max",
        helps[slowest],
        "s",
        command=" ".join(slowest),
        target=HELP_TARGET_S,
        met=helps[slowest] < HELP_TARGET_S,
    )
    emit(
        "cli_startup",
        "stats_wall_max",
        stats,
        "s",
        target=STATS_TARGET_S,
        met=stats < STATS_TARGET_S,
    )


if __name__ == "__main__":
    main()
