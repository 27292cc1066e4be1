"""Command-line interface. ``redline --help`` lists the commands."""

from __future__ import annotations

from redline.cli import db, io, stats  # noqa: F401  (each module registers its commands)
from redline.cli.app import app


def main() -> None:
    app(prog_name="redline")


__all__ = ["app", "main"]
