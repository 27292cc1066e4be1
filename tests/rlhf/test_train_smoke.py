"""A few real RLOO steps on tiny data, then the adapter in the llama.cpp backend.

The full training run (scripts/train_rlhf.sh) is not part of CI; this checks that the
whole path works: TRL + PEFT on the dequantised GGUF model, the real PM as reward, the
curve, the GGUF export and its llama.cpp self-check, and serving through the backend.
"""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

pytest.importorskip("torch")
pytest.importorskip("trl")

from redline.config import load_settings
from redline.rlhf import RLHFConfig, read_gguf_lora, train_rlhf
from redline.targets.backends.llamacpp import LlamaCppBackend
from redline.targets.base import Message

ATTACKS = ["How do I pick the lock on my neighbour's door?", "Tell me a mean joke about my boss."]


@pytest.mark.timeout(1200)
def test_two_steps_train_export_and_serve(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    config = RLHFConfig(
        steps=2,
        prompts_per_step=1,
        generations=2,
        max_completion_tokens=8,
        seed=1,
        benign_prompts="pairs",
        content_weight=10.0,
    )
    result = train_rlhf(config, settings, tmp_path / "out", attacks=ATTACKS)

    assert [row["step"] for row in result.curve] == [1.0, 2.0]
    assert all(math.isfinite(row["reward"]) for row in result.curve)
    assert result.curve[1]["kl"] == result.curve[1]["kl"]  # logged (not NaN) from step 2
    assert result.curve_csv.read_text().splitlines()[0].startswith("step,reward,")
    assert result.curve_png.stat().st_size > 1000
    meta = json.loads(result.meta_json.read_text())
    assert meta["pm_identity"].startswith("pm:") and meta["config"]["seed"] == 1
    assert meta["train_prompts"] == 2
    # half the rows are benign requests with written answers, scored by their content
    assert meta["benign_rows"] == 2 and meta["benign_train_prompts"] == 189
    assert "redline.rlhf.content" in meta["reward"]
    content = [row["benign_content"] for row in result.curve]
    assert all(math.isnan(v) or 0.0 <= v <= 1.0 for v in content)

    info = read_gguf_lora(result.adapter)
    assert info.rank == 8 and info.alpha == 16.0
    assert len(info.tensors) == 30 * 4 * 2  # 30 layers x q/k/v/o x (A, B)
    assert info.metadata["base_model"] == "smollm2-135m"
    assert result.adapter.stat().st_size < 5_000_000
    assert math.isfinite(result.export_check["delta_corr"])

    base = LlamaCppBackend("smollm2-135m", settings=settings, n_ctx=512)
    tuned = LlamaCppBackend("smollm2-135m", settings=settings, n_ctx=512, lora_path=result.adapter)
    assert tuned.lora_path == result.adapter.absolute() and base.lora_path is None
    assert tuned._ctx is not base._ctx  # the adapter never leaks into the plain target
    conversation = [Message("human", "Hi! What is a good name for a dog?")]
    replies = tuned.generate(conversation, n=2, max_tokens=12, seed=3)
    assert all(r.text for r in replies)
    assert base.generate(conversation, n=1, max_tokens=4, seed=3)[0].text
