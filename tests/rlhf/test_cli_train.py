"""``redline train rlhf``: help text and a bad option rejected before any model loads."""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from redline.cli import app

pytest.importorskip("trl")


def test_help_names_the_method_and_gives_an_example() -> None:
    result = CliRunner().invoke(app, ["train", "rlhf", "--help"])
    assert result.exit_code == 0
    assert "RLOO" in result.output and "Example: redline train rlhf" in result.output


def test_zero_steps_is_a_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path), "train", "rlhf", "--steps", "0", "--out", str(tmp_path)]
    )
    assert result.exit_code == 2
    assert "--steps must be >= 1" in result.output
