"""The shipped ``smollm2-135m/rlhf`` target: adapter, curve and registry entry."""

from __future__ import annotations

import csv
import json
import math
from pathlib import Path

import pytest

from redline.config import load_settings
from redline.rlhf import PACKAGED_ADAPTERS, packaged_adapter, read_gguf_lora
from redline.targets.registry import available_targets, build_target, clear_cache

pytest.importorskip("gguf")


def test_adapter_is_shipped_small_and_says_what_it_was_trained_against() -> None:
    adapter = packaged_adapter("smollm2-135m")
    assert adapter is not None, "src/redline/targets/adapters/smollm2-135m-rlhf.gguf is missing"
    assert adapter.stat().st_size < 5_000_000
    info = read_gguf_lora(adapter)
    assert info.rank == 8
    assert info.metadata["base_model"] == "smollm2-135m"
    assert info.metadata["pm_identity"].startswith("pm:")
    meta = json.loads((PACKAGED_ADAPTERS / "train_meta.json").read_text())
    assert meta["export_check"]["delta_corr"] > 0.5
    assert meta["config"]["steps"] == int(info.metadata["steps"])


def test_curve_has_reward_and_kl_for_every_step() -> None:
    with (PACKAGED_ADAPTERS / "curve.csv").open() as fh:
        rows = list(csv.DictReader(fh))
    meta = json.loads((PACKAGED_ADAPTERS / "train_meta.json").read_text())
    assert [int(float(r["step"])) for r in rows] == list(range(1, meta["config"]["steps"] + 1))
    assert all(math.isfinite(float(r["reward"])) and math.isfinite(float(r["kl"])) for r in rows)
    assert (PACKAGED_ADAPTERS / "curve.png").stat().st_size > 1000


def test_registry_lists_and_builds_the_rlhf_target(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path)
    infos = {i.name: i for i in available_targets(settings)}
    info = infos["smollm2-135m/rlhf"]
    assert info.model_type == "rlhf" and info.defence == "rlhf" and info.num_params > 0
    clear_cache()
    try:
        target = build_target("smollm2-135m/rlhf", settings)
        plain = build_target("smollm2-135m/plain", settings)
        backend = target.backend  # type: ignore[attr-defined]
        assert backend.lora_path == packaged_adapter("smollm2-135m")
        assert plain.backend.lora_path is None  # type: ignore[attr-defined]
        # Same plain prompt in front of the conversation: differences come from training.
        assert target.prompt.name == "plain"  # type: ignore[attr-defined]
    finally:
        clear_cache()
