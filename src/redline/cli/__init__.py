"""Command-line interface. ``redline --help`` lists the commands.

Every module in this package registers its commands on :data:`redline.cli.app.app` when
imported; they are discovered here so that adding a command group touches one file.
Modules import heavy libraries (SQLAlchemy, pandas, scikit-learn, llama.cpp, torch...)
inside their commands, not at the top, so ``--help`` answers at once
(``benchmarks/cli_startup_bench.py``; ``tests/cli/test_help.py`` guards the imports).
"""

from __future__ import annotations

import importlib
import pkgutil

from redline.cli.app import app, group_commands_by_task

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "app":
        importlib.import_module(f"{__name__}.{_module.name}")

group_commands_by_task()


def main() -> None:
    app(prog_name="redline")


__all__ = ["app", "main"]
