"""The GGUF LoRA file format: names, shapes, the q/k row permutation, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("gguf")

from redline.errors import DataFormatError
from redline.rlhf.gguf_lora import (
    export_gguf_lora,
    gguf_tensor_name,
    read_gguf_lora,
    rope_permute,
)


def _lora(layer: int, module: str, n_out: int, r: int = 4, n_in: int = 16) -> dict:
    rng = np.random.default_rng(layer)
    prefix = f"base_model.model.model.layers.{layer}.self_attn.{module}"
    return {
        f"{prefix}.lora_A.weight": rng.normal(size=(r, n_in)).astype(np.float32),
        f"{prefix}.lora_B.weight": rng.normal(size=(n_out, r)).astype(np.float32),
    }


def test_names_follow_llama_cpp() -> None:
    key = "base_model.model.model.layers.12.self_attn.o_proj.lora_B.weight"
    assert gguf_tensor_name(key) == ("blk.12.attn_output.weight.lora_b", "self_attn.o_proj")
    key = "base_model.model.model.layers.0.self_attn.q_proj.lora_A.default.weight"
    assert gguf_tensor_name(key)[0] == "blk.0.attn_q.weight.lora_a"
    with pytest.raises(DataFormatError):
        gguf_tensor_name("model.embed_tokens.lora_A.weight")


def test_rope_permute_interleaves_the_two_halves_of_each_head() -> None:
    # One head of 8 rows in rotate-half order [x0..x3 | y0..y3] -> pairs (x0,y0),(x1,y1)...
    rows = np.arange(8)[:, None]
    assert rope_permute(rows, 1).ravel().tolist() == [0, 4, 1, 5, 2, 6, 3, 7]
    two = rope_permute(np.arange(16)[:, None], 2).ravel().tolist()
    assert two[:8] == [0, 4, 1, 5, 2, 6, 3, 7] and two[8:] == [8, 12, 9, 13, 10, 14, 11, 15]


def test_round_trip_keeps_shapes_alpha_metadata_and_permutes_only_q_k_b(tmp_path: Path) -> None:
    weights = {**_lora(0, "q_proj", 16), **_lora(0, "v_proj", 8), **_lora(1, "k_proj", 8)}
    path = export_gguf_lora(
        weights,
        tmp_path / "a.gguf",
        alpha=8.0,
        n_head=2,
        n_head_kv=1,
        metadata={"seed": "3"},
        dtype=np.float32,  # exact values, to check the permutation bit for bit
    )
    info = read_gguf_lora(path)
    assert info.alpha == 8.0 and info.rank == 4 and info.metadata == {"seed": "3"}
    assert info.tensors["blk.0.attn_q.weight.lora_a"] == (4, 16)
    assert info.tensors["blk.0.attn_q.weight.lora_b"] == (16, 4)
    assert info.tensors["blk.0.attn_v.weight.lora_b"] == (8, 4)

    import gguf

    stored = {t.name: np.asarray(t.data) for t in gguf.GGUFReader(str(path)).tensors}
    pre = "base_model.model.model.layers"
    q_b = weights[f"{pre}.0.self_attn.q_proj.lora_B.weight"]
    k_b = weights[f"{pre}.1.self_attn.k_proj.lora_B.weight"]
    v_b = weights[f"{pre}.0.self_attn.v_proj.lora_B.weight"]
    np.testing.assert_array_equal(stored["blk.0.attn_q.weight.lora_b"], rope_permute(q_b, 2))
    np.testing.assert_array_equal(stored["blk.1.attn_k.weight.lora_b"], rope_permute(k_b, 1))
    np.testing.assert_array_equal(stored["blk.0.attn_v.weight.lora_b"], v_b)
    np.testing.assert_array_equal(
        stored["blk.0.attn_q.weight.lora_a"], weights[f"{pre}.0.self_attn.q_proj.lora_A.weight"]
    )


def test_default_export_is_float16_and_close(tmp_path: Path) -> None:
    import gguf

    weights = _lora(0, "v_proj", 8)
    path = export_gguf_lora(weights, tmp_path / "h.gguf", alpha=8.0, n_head=2, n_head_kv=1)
    tensors = {t.name: t for t in gguf.GGUFReader(str(path)).tensors}
    stored = tensors["blk.0.attn_v.weight.lora_b"]
    assert stored.tensor_type.name == "F16"
    original = weights["base_model.model.model.layers.0.self_attn.v_proj.lora_B.weight"]
    np.testing.assert_allclose(np.asarray(stored.data, dtype=np.float32), original, rtol=1e-3)


def test_half_an_adapter_is_refused(tmp_path: Path) -> None:
    weights = _lora(0, "v_proj", 8)
    weights.pop(next(k for k in weights if "lora_B" in k))
    with pytest.raises(DataFormatError, match="no matching"):
        export_gguf_lora(weights, tmp_path / "a.gguf", alpha=8, n_head=2, n_head_kv=1)
    assert not (tmp_path / "a.gguf").exists()


def test_a_model_file_is_not_an_adapter() -> None:
    from redline.targets.catalogue import resolve_model

    with pytest.raises(DataFormatError, match="not a GGUF LoRA"):
        read_gguf_lora(resolve_model("smollm2-135m").path)
