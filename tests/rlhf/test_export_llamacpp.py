"""llama.cpp with the exported adapter moves the logits the way PyTorch with PEFT does.

Why random LoRA weights of a visible size: llama.cpp quantises activations on the fly
for Q4 weights, so a tiny adapter's effect drowns in rounding noise (measured: a change
of 1e-4 logits shows up as ~0.02 of noise). An adapter that moves logits by ~1 is far
above that floor, so a wrong name, transpose, scale or q/k permutation shows clearly.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

torch = pytest.importorskip("torch")
peft = pytest.importorskip("peft")

from redline.rlhf import gguf_lora  # noqa: E402
from redline.rlhf.gguf_lora import export_gguf_lora, llamacpp_logits  # noqa: E402

PROMPT = "<|im_start|>user\nWhat is the capital of France?<|im_end|>\n<|im_start|>assistant\n"


def _delta_agreement(
    policy: Any, modules: list[str], path: Path, std: float
) -> tuple[float, float]:
    """(correlation, llama/torch norm ratio) of the logit change a random LoRA makes."""
    model = peft.get_peft_model(
        policy.model,
        peft.LoraConfig(r=8, lora_alpha=16, target_modules=modules, lora_dropout=0.0),
    )
    try:
        gen = torch.Generator().manual_seed(0)
        for name, param in model.named_parameters():
            if "lora_B" in name:
                with torch.no_grad():
                    param.copy_(torch.randn(param.shape, generator=gen) * std)
        state = {k: v.detach().numpy() for k, v in peft.get_peft_model_state_dict(model).items()}
        export_gguf_lora(state, path, alpha=16, n_head=policy.n_head, n_head_kv=policy.n_head_kv)
        ids = policy.tokenizer(PROMPT).input_ids
        with torch.no_grad():
            tuned = model(torch.tensor([ids])).logits[0].numpy()
            with model.disable_adapter():
                base = model(torch.tensor([ids])).logits[0].numpy()
    finally:
        model.unload()
    d_torch = (tuned - base).ravel()
    d_llama = (
        llamacpp_logits(policy.gguf_path, ids, lora_path=path)
        - llamacpp_logits(policy.gguf_path, ids)
    ).ravel()
    corr = float(np.corrcoef(d_torch, d_llama)[0, 1])
    return corr, float(np.linalg.norm(d_llama) / np.linalg.norm(d_torch))


def test_all_attention_projections_agree(policy: Any, tmp_path: Path) -> None:
    corr, ratio = _delta_agreement(
        policy, ["q_proj", "k_proj", "v_proj", "o_proj"], tmp_path / "a.gguf", std=0.1
    )
    assert corr > 0.95, corr
    assert 0.8 < ratio < 1.25, ratio


def test_q_k_without_the_rope_permutation_would_disagree(
    policy: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The check above can fail: exporting q/k without the permutation is caught."""
    good, _ = _delta_agreement(policy, ["q_proj", "k_proj"], tmp_path / "good.gguf", std=0.2)
    monkeypatch.setattr(gguf_lora, "rope_permute", lambda rows, n_head: rows)
    bad, _ = _delta_agreement(policy, ["q_proj", "k_proj"], tmp_path / "bad.gguf", std=0.2)
    assert good > 0.95, good
    assert bad < good - 0.15, (good, bad)
