"""The llama.cpp backend's ``lora_path`` option refuses what is not an adapter."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline.errors import BackendUnavailable
from redline.targets.backends.llamacpp import LlamaCppBackend
from redline.targets.catalogue import resolve_model


def test_missing_adapter_is_named(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="does not exist"):
        LlamaCppBackend("smollm2-135m", n_ctx=256, lora_path=tmp_path / "missing.gguf")


def test_a_model_file_is_not_accepted_as_an_adapter() -> None:
    model_file = resolve_model("smollm2-135m").path
    with pytest.raises(BackendUnavailable, match="LoRA adapter"):
        LlamaCppBackend("smollm2-135m", n_ctx=256, lora_path=model_file)
    # A later plain backend still works (no half-built context was cached).
    plain = LlamaCppBackend("smollm2-135m", n_ctx=256)
    assert plain.lora_path is None
