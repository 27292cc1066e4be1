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
import os
import resource
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


def timed(argv: list[str], repeats: int) -> tuple[float, float]:
    """Median (wall, CPU) seconds of ``argv`` in a fresh process; fails loudly if it fails.

    CPU time (user + system of the child) is what the command costs; on an idle machine
    the wall time is about the same, on a busy one the wall time also counts waiting for
    a core, so both are printed.
    """
    walls, cpus = [], []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append(after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime)
    return statistics.median(walls), statistics.median(cpus)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    redline = str(Path(sys.executable).with_name("redline"))
    load = os.getloadavg()[0]
    helps: dict[tuple[str, ...], tuple[float, float]] = {
        ("--help",): timed([redline, "--help"], args.repeats)
    }
    for path in command_paths(typer.main.get_command(app)):
        helps[(*path, "--help")] = timed([redline, *path, "--help"], args.repeats)
    for words, (wall, cpu) in helps.items():
        emit("cli_startup", "help_wall", wall, "s", command=" ".join(words), cpu_s=round(cpu, 3))
    with tempfile.TemporaryDirectory() as tmp:
        base = [redline, "--data-dir", tmp]
        subprocess.run([*base, "import", str(SAMPLE)], check=True, stdout=subprocess.DEVNULL)
        stats, stats_cpu = timed([*base, "stats"], args.repeats)
    emit(
        "cli_startup",
        "stats_wall",
        stats,
        "s",
        command="stats",
        attempts=10,
        cpu_s=round(stats_cpu, 3),
    )
    slowest = max(helps, key=lambda words: helps[words][0])
    emit(
        "cli_startup",
        "help_wall_max",
        helps[slowest][0],
        "s",
        command=" ".join(slowest),
        cpu_s_max=round(max(cpu for _, cpu in helps.values()), 3),
        target=HELP_TARGET_S,
        met=helps[slowest][0] < HELP_TARGET_S,
        load_average=round(load, 2),
    )
    emit(
        "cli_startup",
        "stats_wall_max",
        stats,
        "s",
        cpu_s=round(stats_cpu, 3),
        target=STATS_TARGET_S,
        met=stats < STATS_TARGET_S,
        load_average=round(load, 2),
    )


if __name__ == "__main__":
    main()
