"""The command line: help with examples everywhere, stats, settings precedence."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from typer.testing import CliRunner

from redline.cli import app
from redline.config import load_settings

runner = CliRunner()


def _commands(group: Any, prefix: tuple[str, ...] = ()) -> list[tuple[str, ...]]:
    found = []
    for name, command in group.commands.items():
        path = (*prefix, name)
        if hasattr(command, "commands"):
            found += _commands(command, path)
        else:
            found.append(path)
    return found


def test_every_command_has_help_with_an_example() -> None:
    root = typer.main.get_command(app)
    commands = _commands(root)
    assert {("import",), ("stats",), ("export", "comparisons"), ("db", "upgrade")} <= set(commands)
    for path in commands:
        result = runner.invoke(app, [*path, "--help"])
        assert result.exit_code == 0, path
        assert "Example" in result.output, f"redline {' '.join(path)} --help has no example"


def test_stats_json_matches_an_independent_computation(
    tmp_path: Path, red_team_sample: Path
) -> None:
    url = f"sqlite:///{tmp_path / 'r.db'}"
    sample = red_team_sample
    runner.invoke(app, ["--db-url", url, "import", str(sample)])
    result = runner.invoke(app, ["--db-url", url, "stats", "--json"])
    assert result.exit_code == 0, result.output
    rows = json.loads(result.output)
    records = json.loads(sample.read_text())
    assert len(rows) == 1
    row = rows[0]
    assert (row["model_type"], row["size_label"], row["n"]) == ("context distillation", "52B", 10)
    assert abs(row["mean_rating"] - sum(r["rating"] for r in records) / 10) < 1e-12
    expected = sum(r["min_harmlessness_score_transcript"] for r in records) / 10
    assert abs(row["mean_min_harmlessness"] - expected) < 1e-12
    table = runner.invoke(app, ["--db-url", url, "stats"])
    assert "context distillation" in table.output and "52B" in table.output


def test_stats_on_an_empty_store(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--db-url", f"sqlite:///{tmp_path / 'e.db'}", "stats"])
    assert result.exit_code == 0 and "no attempts" in result.output


def test_bad_database_url_is_a_clear_error(tmp_path: Path) -> None:
    result = runner.invoke(app, ["--db-url", "nonsense://", "stats"])
    assert result.exit_code == 2
    assert "database URL" in result.output


def test_settings_precedence(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "redline.toml").write_text('data_dir = "from-toml"\n')
    monkeypatch.delenv("REDLINE_DATA_DIR", raising=False)
    monkeypatch.delenv("REDLINE_DB_URL", raising=False)
    assert load_settings(cwd=tmp_path).data_dir == tmp_path / "from-toml"
    monkeypatch.setenv("REDLINE_DATA_DIR", str(tmp_path / "from-env"))
    assert load_settings(cwd=tmp_path).data_dir == tmp_path / "from-env"
    flag = load_settings(cwd=tmp_path, data_dir=tmp_path / "from-flag")
    assert flag.data_dir == tmp_path / "from-flag"
    assert flag.db_url == f"sqlite:///{tmp_path / 'from-flag' / 'redline.db'}"


def test_broken_toml_is_a_clear_error(tmp_path: Path, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    (tmp_path / "redline.toml").write_text("data_dir = \n")
    monkeypatch.chdir(tmp_path)
    result = runner.invoke(app, ["stats"])
    assert result.exit_code == 2 and "not valid TOML" in result.output
