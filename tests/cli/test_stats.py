"""``redline stats`` says what its numbers count, as the report's header does."""

from __future__ import annotations

import gzip
from pathlib import Path

from typer.testing import CliRunner

from redline.cli import app


def test_stats_counts_attempts_and_names_the_pairs_it_leaves_out(
    tmp_path: Path, red_team_sample: Path, harmless_pairs: Path
) -> None:
    pairs = tmp_path / "pairs.jsonl"
    with gzip.open(harmless_pairs, "rt", encoding="utf-8") as fh:
        pairs.write_text("".join(line for _, line in zip(range(7), fh, strict=False)))
    base = ["--data-dir", str(tmp_path / "data")]
    runner = CliRunner()
    for path in (red_team_sample, pairs):
        assert runner.invoke(app, [*base, "import", str(path)]).exit_code == 0
    result = runner.invoke(app, [*base, "stats"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert "Red-team attempts by model type and size" in result.output
    assert "Origins of these 10 attempts: imported 10." in result.output
    assert "Not counted: 7 records without a target (imported comparison pairs)" in result.output
