"""Command-line interface. ``redline --help`` lists the commands.

Every module in this package registers its commands on :data:`redline.cli.app.app` when
imported; they are discovered here so that adding a command group touches one file.
Modules import heavy libraries (llama.cpp, torch...) inside their commands, not at the top.
"""

from __future__ import annotations

import importlib
import pkgutil

from redline.cli.app import app

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "app":
        importlib.import_module(f"{__name__}.{_module.name}")


def main() -> None:
    app(prog_name="redline")


__all__ = ["app", "main"]
