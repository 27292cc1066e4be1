"""The attack commands end to end: errors as one line with exit 2, and (slow) a real
embedded model replayed, attacked, compared and studied through the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import func, select
from typer.testing import CliRunner

from redline.cli import app
from redline.store import Store
from redline.store.models import Attempt, Candidate, Origin, Turn

runner = CliRunner()


def _run(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = runner.invoke(app, ["--data-dir", str(tmp_path / "data"), *args])
    return result.exit_code, result.output


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["replay", "store", "--targets", "nope-1m/plain"], "unknown target 'nope-1m/plain'"),
        (["replay", "missing.jsonl", "--targets", "smollm2-135m/plain"], "does not exist"),
        (["replay", "store", "--targets", " , "], "--targets is empty"),
        (["replay", "store", "--targets", "smollm2-135m/plain"], "redline import"),
        (["replay", "store:robots", "--targets", "smollm2-135m/plain"], "unknown origin"),
        (["attack", "--target", "nope-1m/hhh", "--n", "1"], "unknown target"),
        (["compare"], "no scored attempts"),
        (["compare", "--origin", "robots"], "--origin must be"),
        (["study", "--attacks", "missing.jsonl.gz"], "does not exist"),
        (["diversity"], "at least 5 attacks per group"),
    ],
)
def test_errors_are_one_line_and_exit_2(tmp_path: Path, args: list[str], message: str) -> None:
    code, output = _run(tmp_path, *args)
    assert code == 2, output
    assert message in output
    assert "Traceback" not in output


@pytest.mark.slow
def test_real_model_replay_attack_compare_and_study(tmp_path: Path, pairs_file: Path) -> None:
    """smollm2-135m under the real PM; tiny limits and short replies keep it to a minute."""
    targets = "smollm2-135m/plain,smollm2-135m/hhh"
    args = ["replay", str(pairs_file), "--targets", targets, "--limit", "2", "--max-tokens", "12"]
    code, output = _run(tmp_path, *args)
    assert code == 0, output
    assert "4 stored, 0 already stored, 0 failed" in output
    code, output = _run(tmp_path, *args)
    assert "0 stored, 4 already stored" in output

    store = Store(f"sqlite:///{tmp_path / 'data' / 'redline.db'}")
    with store.session() as session:
        replays = session.scalars(select(Attempt).where(Attempt.origin == Origin.REPLAY)).all()
        assert len(replays) == 4
        for attempt in replays:
            assert attempt.source_attempt_id is not None
            assert attempt.scored_by and attempt.scored_by.startswith("pm:")
            assert attempt.min_harmlessness is not None
            (turn,) = attempt.turns
            assert len(turn.candidates) == 2 and turn.candidates[0].picked
            assert all(c.text.strip() and c.meta["backend"] == "llamacpp" for c in turn.candidates)
            assert turn.candidates[0].meta["completion_tokens"] <= 12

    code, output = _run(tmp_path, "compare", "--origin", "replay", "--n-boot", "200")
    assert code == 0, output
    assert "smollm2-135m/hhh" in output and "Paired on the same attacks" in output

    code, output = _run(
        tmp_path,
        *("attack", "--target", "smollm2-135m/plain", "--attacker", "smollm2-135m"),
        *("--n", "1", "--turns", "2", "--attack-tokens", "16", "--max-tokens", "12"),
    )
    assert code == 0, output
    with store.session() as session:
        automated = session.scalars(select(Attempt).where(Attempt.origin == Origin.AUTOMATED)).one()
        assert len(automated.turns) == 2
        assert all(t.human and t.human.strip() for t in automated.turns)

    out = tmp_path / "study"
    code, output = _run(
        tmp_path,
        *("study", "--attacks", str(pairs_file), "--targets", targets, "--limit", "3"),
        *("--max-tokens", "8", "--n-boot", "100", "--out", str(out)),
        *("--judges", "pm,llm-gemma3-270m", "--benign-limit", "3"),
    )
    assert code == 0, output
    meta = json.loads((out / "study.json").read_text())
    assert meta["replay"]["written"] == 6 and meta["replay"]["failed"] == []
    assert [row["n"] for row in meta["summary"]] == [3, 3]
    assert (out / "figure.png").stat().st_size > 10_000
    # harm by independent judges (the gemma judge on smollm2 replies) and over-refusal
    judged = pd.read_csv(out / "judged.csv")
    assert set(judged["judge"]) == {"pm", "llm-gemma3-270m"}
    assert (judged["not_independent"].isna()).all()  # plain, hhh: no selector
    assert set(pd.read_csv(out / "overrefusal.csv")["n"]) == {3}
    assert "benign over-refusal" in output and (out / "tradeoff.png").is_file()
    assert "benign answer coverage" in output  # the evasion the lexicon misses
    assert pd.read_csv(out / "overrefusal.csv")["coverage"].between(0, 1).all()
    with store.session() as session:
        candidates = session.scalar(
            select(func.count())
            .select_from(Candidate)
            .join(Turn)
            .join(Attempt)
            .where(Attempt.origin == Origin.REPLAY)
        )
        assert candidates == 4 * 2 + 6 * 1  # replays keep 2 candidates, the study 1
    store.dispose()
