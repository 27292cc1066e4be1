"""``redline pm train``, ``redline pm eval --json`` and ``redline score`` end to end on real
pairs from pairs-a (a couple of dozen, to keep CI short) and the real SmolLM2 backbone."""

from __future__ import annotations

import gzip
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from redline.cli import app
from redline.store import Store
from redline.store.models import Attempt, PreferenceModel

pytestmark = pytest.mark.slow
runner = CliRunner()


@pytest.fixture(scope="module")
def small_pairs(pairs_a: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The first 12 one-turn pairs with short replies: real data, little compute."""
    lines: list[str] = []
    with gzip.open(pairs_a, "rt", encoding="utf-8") as fh:
        for line in fh:
            record = json.loads(line)
            if all(t.count("Human:") == 1 and len(t) < 600 for t in record.values()):
                lines.append(line.rstrip("\n"))
            if len(lines) == 12:
                break
    path = tmp_path_factory.mktemp("pairs") / "small.jsonl"
    path.write_text("\n".join(lines) + "\n")
    return path


def test_train_eval_and_score(small_pairs: Path, tmp_path: Path) -> None:
    base = ["--data-dir", str(tmp_path)]
    trained = runner.invoke(
        app,
        [
            *base,
            "pm",
            "train",
            "--pairs",
            str(small_pairs),
            "--name",
            "t",
            "--val-fraction",
            "0.25",
        ],
    )
    assert trained.exit_code == 0, trained.output
    store = Store(f"sqlite:///{tmp_path / 'redline.db'}")
    with store.session() as session:
        row = session.scalar(select(PreferenceModel).where(PreferenceModel.name == "t"))
        assert row is not None and len(row.data_hash) == 64
        assert row.metrics is not None and row.metrics["validation"]["pairs"] == 3
        # Counter-bias pairs joined training only; calibration was measured and stored.
        assert row.metrics["train_counter"]["pairs"] >= 150
        assert row.metrics["held_out"]["n"] == 3
        assert 0.0 <= row.metrics["held_out"]["accuracy"]["value"] <= 1.0
        assert row.metrics["benign"]["prefers_helpful"]["n"] >= 100
        model_path = Path(row.path)
    assert model_path.is_file() and model_path.with_suffix(".npz").is_file()

    evaluated = runner.invoke(
        app, [*base, "pm", "eval", str(small_pairs), "--model", str(model_path), "--json"]
    )
    assert evaluated.exit_code == 0, evaluated.output
    result = json.loads(evaluated.stdout.strip().splitlines()[-1])
    assert set(result) >= {"pairs", "accuracy", "auc", "log_loss"}
    assert result["pairs"] == 12 and 0.0 <= result["accuracy"] <= 1.0

    imported = runner.invoke(app, [*base, "import", str(small_pairs)])
    assert imported.exit_code == 0, imported.output
    default = runner.invoke(app, [*base, "score", "--model", str(model_path)])
    assert default.exit_code == 0, default.output
    assert (
        "12 comparison pairs left out" in default.output and "scored 0 attempts" in default.output
    )
    # In a fresh process, as a user runs it: llama.cpp's own log must not reach the terminal.
    redline = Path(sys.executable).with_name("redline")
    scored = subprocess.run(
        [redline, *base, "score", "--pairs", "--model", str(model_path)],
        capture_output=True,
        text=True,
    )
    assert scored.returncode == 0, scored.stderr
    assert scored.stderr.strip() == "scoring 12 records (attempts and comparison pairs)"
    assert "scored 12 attempts" in scored.stdout
    with store.session() as session:
        attempts = session.scalars(select(Attempt)).all()
        assert attempts and all(a.min_harmlessness is not None for a in attempts)
    again = runner.invoke(app, [*base, "score", "--pairs", "--model", str(model_path)])
    assert "scored 0 attempts" in again.output


def test_bad_input_is_one_line_and_exit_2(tmp_path: Path) -> None:
    base = ["--data-dir", str(tmp_path)]
    nothing = runner.invoke(app, [*base, "pm", "train"])
    assert nothing.exit_code == 2 and "nothing to train on" in nothing.output
    same = {"chosen": "\n\nHuman: a\n\nAssistant: b", "rejected": "\n\nHuman: a\n\nAssistant: b"}
    path = tmp_path / "same.jsonl"
    path.write_text(json.dumps(same) + "\n")
    useless = runner.invoke(app, [*base, "pm", "eval", str(path), "--json"])
    assert useless.exit_code == 2 and "no usable pairs" in useless.output
