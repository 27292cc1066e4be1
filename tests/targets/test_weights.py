"""The weights llama.cpp runs: the GGUF as shipped, or a BF16 copy made once by llama.cpp.

Real conversions of SmolLM2-135M (about 1.5 s each, 270 MB) into temporary data dirs; no
part of the conversion is mocked.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from typer.testing import CliRunner

from redline.cli import app
from redline.config import Settings, load_settings
from redline.errors import BackendUnavailable, ConfigError
from redline.targets.backends.llamacpp import LlamaCppBackend
from redline.targets.backends.native import NativeModel
from redline.targets.base import Message
from redline.targets.catalogue import CATALOGUE, GGUF_MAGIC, resolve_model
from redline.targets.cpu import machine_cpu_flags, runnable
from redline.targets.weights import (
    AUTO_WITHOUT_BF16,
    converted_path,
    kernels_have_bf16,
    runtime_weights,
    weights_choice,
)

ADAPTER = Path(__file__).resolve().parents[2] / (
    "src/redline/targets/adapters/smollm2-135m-rlhf.gguf"
)
ASK = [Message("human", "Name a fruit that is yellow.")]


@pytest.fixture(autouse=True)
def _no_weights_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("REDLINE_LLAMA_WEIGHTS", raising=False)


def _settings(root: Path, weights: str | None) -> Settings:
    return load_settings(data_dir=root / "data", llama_weights=weights, cwd=root)


def _leftovers(settings: Settings) -> list[str]:
    folder = settings.models_dir
    return sorted(p.name for p in folder.iterdir()) if folder.is_dir() else []


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> tuple[Settings, Path, Path]:
    """(settings with llama_weights=bf16, the shipped file, its BF16 copy), made once."""
    settings = _settings(tmp_path_factory.mktemp("weights"), "bf16")
    shipped = CATALOGUE["smollm2-135m"].locate(settings)
    return settings, shipped, runtime_weights(shipped, settings)


def test_the_copy_is_a_bf16_gguf_with_the_same_weights(
    converted: tuple[Settings, Path, Path],
) -> None:
    settings, shipped, path = converted
    assert path == settings.models_dir / "SmolLM2-135M-Instruct.Q4_1.bf16.gguf"
    assert path == converted_path(shipped, settings)
    with path.open("rb") as fh:
        assert fh.read(4) == GGUF_MAGIC
    assert not [n for n in _leftovers(settings) if n.endswith(".tmp")], "temporary file left"
    model = NativeModel(path)
    try:
        assert model.meta("general.file_type") == "32"  # LLAMA_FTYPE_MOSTLY_BF16
        assert model.n_params == CATALOGUE["smollm2-135m"].num_params
    finally:
        model.close()


def test_the_copy_generates_reproducibly_and_close_to_the_shipped_file(
    converted: tuple[Settings, Path, Path],
) -> None:
    settings, shipped, path = converted
    bf16 = LlamaCppBackend("smollm2-135m", settings=settings, n_ctx=256)
    assert bf16.path == path and bf16.name == "smollm2-135m"
    first = bf16.generate(ASK, n=2, max_tokens=12, temperature=0.7, seed=11)
    again = bf16.generate(ASK, n=2, max_tokens=12, temperature=0.7, seed=11)
    assert [s.text for s in first] == [s.text for s in again]
    assert all(s.text for s in first)
    # Near-lossless: hidden states of the same text agree with the Q4_1 file's.
    plain = LlamaCppBackend(shipped, settings=_settings(settings.data_dir, "shipped"), n_ctx=256)
    assert plain.path == shipped
    texts = ["Bananas are yellow.", "How do I pick a lock?"]
    a, b = bf16.embed(texts), plain.embed(texts)
    cos = (a * b).sum(axis=1) / (np.linalg.norm(a, axis=1) * np.linalg.norm(b, axis=1))
    assert cos.min() > 0.99, cos


def test_second_call_reuses_the_copy(converted: tuple[Settings, Path, Path]) -> None:
    settings, shipped, path = converted
    mtime = path.stat().st_mtime_ns
    assert runtime_weights(shipped, settings) == path
    resolved = resolve_model("smollm2-135m", settings)
    assert resolved.path == path and resolved.source_path == shipped and resolved.converted
    assert path.stat().st_mtime_ns == mtime, "converted again"


def test_a_full_precision_file_is_run_as_it_is(
    converted: tuple[Settings, Path, Path], tmp_path: Path
) -> None:
    _, _, path = converted
    settings = _settings(tmp_path, "bf16")
    assert runtime_weights(path, settings) == path
    assert _leftovers(settings) == []


def test_the_lora_adapter_applies_to_the_copy(converted: tuple[Settings, Path, Path]) -> None:
    settings, _, path = converted
    tuned = LlamaCppBackend("smollm2-135m", settings=settings, n_ctx=256, lora_path=ADAPTER)
    plain = LlamaCppBackend("smollm2-135m", settings=settings, n_ctx=256)
    assert tuned.path == plain.path == path
    replies = tuned.generate(ASK, n=2, max_tokens=12, temperature=0.7, seed=3)
    assert all(s.text for s in replies)
    a, b = tuned.embed(["How do I pick a lock?"]), plain.embed(["How do I pick a lock?"])
    assert not np.allclose(a, b), "the adapter changed nothing"


def test_a_bare_gguf_path_is_converted_under_its_own_name(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "bf16")
    link = tmp_path / "my-model.gguf"
    link.symlink_to(CATALOGUE["smollm2-135m"].locate(settings))
    resolved = resolve_model(link, settings)
    assert resolved.path == settings.models_dir / "my-model.bf16.gguf"
    assert resolved.source_path == link and resolved.name == "my-model" and resolved.spec is None
    # A damaged copy is not trusted: it is converted again.
    with resolved.path.open("ab") as fh:
        fh.write(b"junk")
    damaged = resolved.path.stat().st_size
    again = resolve_model(link, settings)
    assert again.path == resolved.path and again.path.stat().st_size == damaged - 4


def test_shipped_returns_the_original_file(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "shipped")
    resolved = resolve_model("smollm2-135m", settings)
    assert resolved.path == resolved.source_path == CATALOGUE["smollm2-135m"].locate(settings)
    assert resolved.path.name == "SmolLM2-135M-Instruct.Q4_1.gguf" and not resolved.converted
    assert _leftovers(settings) == []


def test_auto_follows_the_kernels_this_process_loads(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert _settings(tmp_path, None).llama_weights == "auto"
    expected = "bf16" if kernels_have_bf16() else AUTO_WITHOUT_BF16
    assert weights_choice(_settings(tmp_path, "auto")) == expected
    # a large (memory-bound) model is never converted by auto, whatever the CPU
    assert weights_choice(_settings(tmp_path, "auto"), 8 << 30) == "shipped"
    assert weights_choice(_settings(tmp_path, "bf16"), 8 << 30) == "bf16"
    # the AVX2 kernels (what an AMD EPYC loads) have no native BF16, even on this CPU
    monkeypatch.setenv("REDLINE_LLAMA_CPU", "haswell")
    assert not kernels_have_bf16()
    assert weights_choice(_settings(tmp_path, "auto")) == AUTO_WITHOUT_BF16
    if runnable("zen4", machine_cpu_flags()):  # an AVX512-BF16 CPU (our Xeons)
        monkeypatch.setenv("REDLINE_LLAMA_CPU", "zen4")
        assert kernels_have_bf16()
        assert weights_choice(_settings(tmp_path, "auto")) == "bf16"


def test_setting_precedence_and_bad_values(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "redline.toml").write_text('llama_weights = "q8"\n')
    with pytest.raises(
        ConfigError,
        match=r"'q8' \(from llama_weights in .*redline\.toml\).*"
        r"auto, shipped, bf16, f16, q8_0",
    ):
        load_settings(cwd=tmp_path)
    monkeypatch.setenv("REDLINE_LLAMA_WEIGHTS", "shipped")
    assert load_settings(cwd=tmp_path).llama_weights == "shipped"  # env beats the file
    assert load_settings(cwd=tmp_path, llama_weights="bf16").llama_weights == "bf16"  # flag wins
    monkeypatch.setenv("REDLINE_LLAMA_WEIGHTS", "fp8")
    with pytest.raises(
        ConfigError,
        match=r"'fp8' \(from environment variable "
        r"REDLINE_LLAMA_WEIGHTS\).*auto, shipped, bf16, f16, q8_0",
    ):
        load_settings(cwd=tmp_path)
    with pytest.raises(ConfigError, match=r"'BF16' \(from the command-line flag\)"):
        load_settings(cwd=tmp_path, llama_weights="BF16")
    # Settings built in code are checked where the weights are chosen.
    made = Settings(data_dir=tmp_path, db_url="sqlite://", llama_weights="fast")
    with pytest.raises(ConfigError, match="'fast'"):
        runtime_weights(tmp_path / "model.gguf", made)
    result = CliRunner().invoke(app, ["--llama-weights", "q4", "targets"])
    assert result.exit_code == 2 and "'q4'" in result.output


@pytest.mark.parametrize("broken", ["not-gguf", "truncated", "missing"])
def test_a_failed_conversion_is_unavailable_and_leaves_nothing(tmp_path: Path, broken: str) -> None:
    settings = _settings(tmp_path, "bf16")
    source = tmp_path / "broken.gguf"
    if broken == "not-gguf":
        source.write_bytes(b"PK\x03\x04 not a model at all")
    elif broken == "truncated":  # a valid header, cut off in the tensor data
        with CATALOGUE["smollm2-135m"].locate(settings).open("rb") as fh:
            source.write_bytes(fh.read(3_000_000))
    with pytest.raises(BackendUnavailable, match=r"broken\.gguf.*REDLINE_LLAMA_WEIGHTS=shipped"):
        runtime_weights(source, settings)
    assert _leftovers(settings) == []
    if broken == "truncated":  # resolve_model takes the same path
        with pytest.raises(BackendUnavailable, match="could not convert"):
            resolve_model(source, settings)
        assert _leftovers(settings) == []
