"""llama.cpp's self-check: a tiny decode in a child process before ours runs any kernel."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.errors import BackendUnavailable
from redline.targets import selfcheck
from redline.targets.backends.native import llama_build, planned_variant

DIES_WITH_SIGILL = [
    sys.executable,
    "-c",
    "import os, signal; os.kill(os.getpid(), signal.SIGILL)",
]


@pytest.fixture
def fresh_cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """No remembered check: its own cache folder and an empty in-process memory."""
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    monkeypatch.setattr(selfcheck, "_passed", set())
    yield tmp_path / "cache" / "redline" / "llama-selfcheck.json"


def test_the_build_has_cpu_variants_and_one_is_chosen_for_this_cpu() -> None:
    build = llama_build()
    assert {"x64", "haswell", "zen4", "sapphirerapids"} <= set(build.variants)
    assert all(p.is_file() for p in build.variants.values())
    assert planned_variant() in build.variants


@pytest.mark.slow
def test_a_real_check_decodes_and_is_remembered(
    fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    report = selfcheck.run_check()
    assert report["variant"] == planned_variant()
    assert report["model"] == "SmolLM2-135M-Instruct.Q4_1.gguf" and report["tokens"] > 1
    selfcheck.ensure_llama_runs()
    assert json.loads(fresh_cache.read_text())  # remembered on disk
    monkeypatch.setattr(selfcheck, "_passed", set())
    monkeypatch.setattr(selfcheck, "CHILD_COMMAND", DIES_WITH_SIGILL)
    selfcheck.ensure_llama_runs()  # remembered: the (now crashing) child is not run again


@pytest.mark.slow
def test_the_avx2_kernels_run_when_forced(monkeypatch: pytest.MonkeyPatch) -> None:
    """The haswell variant is what AVX2-only machines load; it runs here too."""
    monkeypatch.setenv("REDLINE_LLAMA_CPU", "haswell")
    assert selfcheck.run_check()["variant"] == "haswell"


def test_a_crashing_build_is_one_clear_error(
    fresh_cache: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(selfcheck, "CHILD_COMMAND", DIES_WITH_SIGILL)
    with pytest.raises(BackendUnavailable) as caught:
        selfcheck.ensure_llama_runs()
    message = str(caught.value)
    assert "illegal instruction" in message and "lacks" in message
    assert "pip install --force-reinstall" in message and "\n" not in message
    assert not fresh_cache.exists()  # a failure is never remembered


def test_serve_refuses_to_start_when_llama_cannot_run(
    fresh_cache: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setattr(selfcheck, "CHILD_COMMAND", DIES_WITH_SIGILL)
    result = CliRunner().invoke(
        app, ["--data-dir", str(tmp_path / "data"), "serve", "--target", "smollm2-135m/plain"]
    )
    assert result.exit_code == 2
    assert "llama.cpp crashed on this CPU" in result.output
    assert "Redline on http" not in result.output  # never started listening


@pytest.mark.slow
def test_an_avx2_machine_generates_two_candidates_from_the_q8_0_copy(tmp_path: Path) -> None:
    """End to end on the kernels an AMD EPYC loads: the haswell variant, auto weights (a
    Q8_0 copy), two real candidates. In a child process: a process loads one variant."""
    code = (
        "from redline.config import load_settings\n"
        "from redline.targets.backends.llamacpp import LlamaCppBackend\n"
        "from redline.targets.backends.native import loaded_variant\n"
        "from redline.targets.base import Message\n"
        f"s = load_settings(data_dir={str(tmp_path / 'data')!r})\n"
        "b = LlamaCppBackend('smollm2-135m', settings=s, n_ctx=256)\n"
        "out = b.generate([Message('human', 'Name a yellow fruit.')], n=2, max_tokens=8, seed=1)\n"
        "print(loaded_variant()); print(b.path.name); print(len([o for o in out if o.text]))\n"
    )
    env = {**os.environ, "REDLINE_LLAMA_CPU": "haswell", "XDG_CACHE_HOME": str(tmp_path)}
    env.pop("REDLINE_LLAMA_WEIGHTS", None)
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    variant, weights, replies = done.stdout.split()
    assert (variant, weights, replies) == ("haswell", "SmolLM2-135M-Instruct.Q4_1.q8_0.gguf", "2")
