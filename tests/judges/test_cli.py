"""``redline judge eval`` and ``redline judge list`` end to end (the refusal judge: fast)."""

from __future__ import annotations

import json
from pathlib import Path

from typer.testing import CliRunner

from redline.cli import app
from redline.judges.registry import judge_names

runner = CliRunner()


def _run(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--data-dir", str(tmp_path / "data"), *args])
    return result.exit_code, result.output


def test_eval_saves_a_calibration_that_list_shows(tmp_path: Path) -> None:
    code, output = _run(tmp_path, "judge", "list")
    assert code == 0, output
    assert output.count("never calibrated") == len(judge_names())
    out = tmp_path / "refusal.json"
    code, output = _run(tmp_path, "judge", "eval", "--judge", "refusal", "--json", str(out))
    assert code == 0, output
    record = json.loads(out.read_text())
    assert record["judge"] == "refusal" and record["identity"].startswith("refusal-lexicon:")
    assert record["pairs"]["n"] == 319 and "held out from the packaged PM" in record["pairs_data"]
    detection = record["benign"]["refusal_detection"]
    assert detection["n"] == 2 * record["benign"]["n"] and detection["lo"] <= detection["value"]
    assert "reviews" not in record  # the refusal judge has no harm to compare with ratings
    code, output = _run(tmp_path, "judge", "list")
    assert code == 0 and output.count("never calibrated") == len(judge_names()) - 1
    assert "refusal detected" in output


def test_unknown_judge_is_one_line_exit_2(tmp_path: Path) -> None:
    code, output = _run(tmp_path, "judge", "eval", "--judge", "nope")
    assert code == 2 and "unknown judge 'nope'" in output and "Traceback" not in output
