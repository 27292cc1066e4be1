"""Every iterative strategy end to end against a real OpenAI-compatible server: llama.cpp's
server on the embedded SmolLM2, started here, serving both the target and the attacker.

Why besides the embedded runs (test_iterative.py): a remote model answers through HTTP
with its own chat template, n handling and failures; a strategy must run to completion,
store its lineage and resume the same way over it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import select
from tests.support.llama_server import ALIAS, llama_server
from typer.testing import CliRunner

from redline.cli import app
from redline.store import Store
from redline.store.models import Attempt, Origin

pytestmark = pytest.mark.slow

TARGET = "smollm2srv-135m/plain"


@pytest.fixture(scope="module")
def served(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Path]:
    """A targets file naming the running server as a target (the attacker too)."""
    root = tmp_path_factory.mktemp("served")
    with llama_server(root, threads=1) as url:
        targets = root / "targets.toml"
        targets.write_text(
            f'[[targets]]\nname = "{TARGET}"\nbackend = "openai"\nbase_url = "{url}"\n'
            f'model = "{ALIAS}"\ndefence = "plain"\nsize_label = "135M"\n'
        )
        yield targets


@pytest.mark.parametrize("strategy", ["pair", "tap", "crescendo", "many-shot"])
def test_each_strategy_runs_over_the_server_and_resumes(
    strategy: str, served: Path, tmp_path: Path
) -> None:
    data = tmp_path / "data"
    args = ["--data-dir", str(data), "--targets", str(served), "attack", "--strategy", strategy]
    args += ["--target", TARGET, "--attacker", TARGET, "--judge", "refusal"]
    args += ["--goals", "packaged", "--budget", "small", "--n", "1", "--max-tokens", "48"]
    result = CliRunner().invoke(app, args)
    assert result.exit_code == 0, result.output
    assert "0 failed" in result.output
    again = CliRunner().invoke(app, args)
    assert again.exit_code == 0 and "0 stored, 1 already stored" in again.output
    with Store(f"sqlite:///{data / 'redline.db'}").session() as session:
        rows = session.scalars(
            select(Attempt).where(Attempt.origin == Origin.AUTOMATED).order_by(Attempt.id)
        ).all()
        assert rows, "nothing stored"
        assert {r.target.name for r in rows} == {TARGET}
        assert all(r.extra and r.extra["strategy"] == strategy for r in rows)
        assert all(r.turns and r.turns[0].human.strip() for r in rows)
        root = rows[0].extra
        assert root["root"] and 1 <= root["outcome"]["queries"] <= 6
        nodes = {r.extra["node"] for r in rows}
        assert all(r.extra["parent"] in nodes | {None} for r in rows)  # a connected tree
