"""``redline doctor``: one screen (or JSON) on what this installation can do."""

from __future__ import annotations

import importlib.metadata
import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.doctor import torch_build
from redline.store import Store
from redline.targets.backends.native import planned_variant


def doctor(tmp_path: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["--data-dir", str(tmp_path / "data"), *args, "doctor"])
    return result.exit_code, result.output


def test_json_names_the_cpu_the_variant_the_models_and_the_database(tmp_path: Path) -> None:
    Store(f"sqlite:///{tmp_path / 'data' / 'redline.db'}").dispose()
    result = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path / "data"), "doctor", "--json", "--no-check"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["ok"] is True
    assert report["llama"]["variant"] == planned_variant()
    assert "haswell" in report["llama"]["variants"]
    checks = {c["name"]: c for c in report["checks"]}
    assert checks["model smollm2-135m"]["ok"] and "Q4_1" in checks["model smollm2-135m"]["detail"]
    assert checks["model gemma3-270m"]["ok"]
    assert "(current)" in checks["database"]["detail"]
    assert checks["extra train"]["ok"] and "extra ray" in checks


def test_an_unreachable_database_is_a_line_to_fix_and_exit_1(tmp_path: Path) -> None:
    code, out = doctor(tmp_path, "--db-url", "postgresql+psycopg://nobody:secret@127.0.0.1:9/none")
    assert code == 1
    assert "FIX" in out and "database" in out
    assert "secret" not in out  # the password is masked


def test_a_database_of_a_newer_redline_is_named(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'future.db'}"
    Store(url).dispose()
    from sqlalchemy import create_engine, text

    engine = create_engine(url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE alembic_version SET version_num = 'ffff_future'"))
    engine.dispose()
    code, out = doctor(tmp_path, "--db-url", url)
    assert code == 1 and "ffff_future" in out and "expects" in out


def test_the_installed_torch_is_the_cpu_build() -> None:
    """The README installs PyTorch from its CPU index (CI runs that command)."""
    assert torch_build() == "cpu"


def test_a_cuda_torch_is_told_from_its_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    """PyPI's default torch wheel: no local version, NVIDIA packages among its requirements."""
    monkeypatch.setattr(importlib.metadata, "version", lambda dist: "2.13.0")
    monkeypatch.setattr(
        importlib.metadata,
        "requires",
        lambda dist: ["filelock", 'nvidia-cublas-cu12==12.8.4.1; platform_system == "Linux"'],
    )
    assert torch_build() == "cuda"
    monkeypatch.setattr(importlib.metadata, "requires", lambda dist: ["filelock"])
    assert torch_build() == "other"
