"""LM embeddings for the attack map: real SmolLM2 states through llama.cpp, cached."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from tests.support.synthetic import synthetic_red_team_records

from redline.analysis.attack_map import attack_map
from redline.analysis.embeddings import LMEmbedder
from redline.config import load_settings


@pytest.mark.slow
def test_lm_embeddings_cached_and_mapped(tmp_path: Path) -> None:
    records = synthetic_red_team_records(24, seed=5)
    texts = [r["transcript"][:300] for r in records]
    settings = load_settings(data_dir=tmp_path / "data", llama_weights="shipped")
    embed = LMEmbedder(
        "smollm2-135m", cache_dir=tmp_path / "cache", max_chars=300, settings=settings
    )
    first = embed(texts)
    assert first.shape[0] == 24 and first.shape[1] >= 64
    np.testing.assert_allclose(np.linalg.norm(first, axis=1), 1.0, atol=1e-5)
    assert embed.throughput["texts_computed"] == 24 and embed.throughput["texts_per_s"] > 0
    second = embed(texts)
    np.testing.assert_allclose(first, second, atol=1e-6)
    assert embed.throughput["texts_cached"] == 24 and embed.throughput["texts_computed"] == 0
    # different texts embed differently
    assert np.abs(first[0] - first[1]).max() > 1e-3

    frame = pd.DataFrame(
        {
            "attempt_id": range(24),
            "rating": [r["rating"] for r in records],
            "model_type": [r["model_type"] for r in records],
            "size_label": [r["num_params"] for r in records],
            "member": [r["red_team_member_id"] for r in records],
        }
    )
    amap = attack_map(
        pd.DataFrame({"attempt_id": range(24), "transcript": texts}), frame, embed=embed
    )
    assert len(amap.points) == 24 and amap.embedding == "lm:smollm2-135m"
    assert np.isfinite(amap.points[["x", "y"]].to_numpy()).all()
