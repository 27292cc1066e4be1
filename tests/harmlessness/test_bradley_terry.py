"""The Bradley-Terry head on synthetic pairs with a known reward: fit, centre, save/load."""

from __future__ import annotations

import json

import numpy as np
import pytest

from redline.errors import ConfigError, DataFormatError
from redline.harmlessness.bradley_terry import (
    BradleyTerryHead,
    PreferenceModelFile,
    fit_linear,
    fit_mlp,
    pair_metrics,
)


def synthetic_pairs(
    n: int, d: int = 20, seed: int = 0
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pairs drawn from a true linear Bradley-Terry model: chosen wins with sigmoid(margin)."""
    rng = np.random.default_rng(seed)
    w = rng.normal(size=d)
    a, b = rng.normal(size=(n, d)), rng.normal(size=(n, d))
    p = 1 / (1 + np.exp(-(a - b) @ w))
    a_wins = rng.random(n) < p
    chosen = np.where(a_wins[:, None], a, b)
    rejected = np.where(a_wins[:, None], b, a)
    return chosen, rejected, w


def test_linear_head_recovers_the_true_reward_direction() -> None:
    chosen, rejected, w = synthetic_pairs(2000)
    head, info = fit_linear(chosen[:1500], rejected[:1500], seed=0)
    learned = head.weights / head.scale
    cosine = learned @ w / np.linalg.norm(learned) / np.linalg.norm(w)
    assert cosine > 0.95
    metrics = pair_metrics(head, chosen[1500:], rejected[1500:])
    assert metrics["accuracy"] > 0.8
    assert 0.0 < metrics["log_loss"] < 0.5
    assert info["C"] > 0


def test_mlp_head_learns_the_same_task() -> None:
    chosen, rejected, _ = synthetic_pairs(1200, d=10)
    head, _ = fit_mlp(chosen[:900], rejected[:900], hidden=8, seed=0)
    assert pair_metrics(head, chosen[900:], rejected[900:])["accuracy"] > 0.75


def test_centring_makes_the_typical_reply_zero() -> None:
    chosen, rejected, _ = synthetic_pairs(500)
    head, _ = fit_linear(chosen, rejected, c=1.0)
    everything = np.vstack([chosen, rejected])
    head.centre(everything)
    assert abs(np.median(head.reward(everything))) < 1e-9
    # centring shifts every reward alike: pair margins (and accuracy) are unchanged
    assert np.allclose(
        head.reward(chosen) - head.reward(rejected), head.raw(chosen) - head.raw(rejected)
    )


@pytest.mark.parametrize("kind", ["linear", "mlp"])
def test_save_load_round_trip_is_exact_and_pickle_free(tmp_path, kind: str) -> None:
    chosen, rejected, _ = synthetic_pairs(300, d=6)
    head, _ = (
        fit_linear(chosen, rejected, c=1.0)
        if kind == "linear"
        else fit_mlp(chosen, rejected, hidden=4)
    )
    head.centre(np.vstack([chosen, rejected]))
    model = PreferenceModelFile(head, {"kind": "gguf", "backbone": "x"}, {"a": 1}, "abc")
    meta = model.save(tmp_path / "pm")
    loaded = PreferenceModelFile.load(meta)
    assert np.array_equal(loaded.head.reward(chosen), head.reward(chosen))
    assert loaded.identity == model.identity
    assert json.loads(meta.read_text())["identity"] == model.identity
    with np.load(tmp_path / "pm.npz", allow_pickle=False) as arrays:  # no object arrays
        assert all(arrays[k].dtype != object for k in arrays.files)


def test_identity_changes_with_the_weights() -> None:
    head = BradleyTerryHead(np.zeros(3), np.ones(3), weights=np.array([1.0, 0.0, 0.0]))
    other = BradleyTerryHead(np.zeros(3), np.ones(3), weights=np.array([1.0, 0.0, 1e-3]))
    assert PreferenceModelFile(head, {}).identity != PreferenceModelFile(other, {}).identity


def test_wrong_feature_size_is_a_clear_error() -> None:
    head = BradleyTerryHead(np.zeros(3), np.ones(3), weights=np.ones(3))
    with pytest.raises(ConfigError, match="expects 3"):
        head.reward(np.zeros((2, 5)))


def test_missing_or_damaged_model_files(tmp_path) -> None:
    with pytest.raises(ConfigError, match="need both"):
        PreferenceModelFile.load(tmp_path / "nothing.json")
    (tmp_path / "bad.json").write_text("{}")
    (tmp_path / "bad.npz").write_bytes(b"not a zip")
    with pytest.raises(DataFormatError):
        PreferenceModelFile.load(tmp_path / "bad.json")
