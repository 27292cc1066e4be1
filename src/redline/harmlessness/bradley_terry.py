"""The Bradley-Terry head: r(context, reply) = f(features), P(a less harmful than b) =
sigmoid(r_a - r_b).

Two heads share one file format (``.npz`` arrays + ``.json`` metadata, never pickle, so a
model file cannot run code when loaded):
- ``linear``: r = w . z with z the standardised features; fit as L2-regularised logistic
  regression on feature differences with no intercept, which *is* the Bradley-Terry
  likelihood (scikit-learn, C chosen by cross-validation);
- ``mlp``: r = v . tanh(W z + b), the same pairwise likelihood maximised with L-BFGS
  (scipy.optimize) and an L2 penalty.
Scores are centred after fitting: ``offset`` is the median reward of the training
replies, so 0 is a typical reply and lower means more harmful.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from scipy.optimize import minimize
from scipy.special import expit, log_expit

from redline.errors import ConfigError, DataFormatError

FORMAT = "redline-pm/1"


@dataclass
class BradleyTerryHead:
    """Standardisation + a linear or one-hidden-layer reward; see the module docstring."""

    mean: np.ndarray
    scale: np.ndarray
    kind: str = "linear"
    weights: np.ndarray = field(default_factory=lambda: np.zeros(0))  # linear: (d,)
    hidden_w: np.ndarray | None = None  # mlp: (d, h)
    hidden_b: np.ndarray | None = None  # mlp: (h,)
    out_w: np.ndarray | None = None  # mlp: (h,)
    offset: float = 0.0

    @property
    def dim(self) -> int:
        return int(self.mean.shape[0])

    def raw(self, features: np.ndarray) -> np.ndarray:
        """Uncentred reward of each row of ``features``."""
        x = np.atleast_2d(np.asarray(features, dtype=np.float64))
        if x.shape[1] != self.dim:
            raise ConfigError(
                f"features have {x.shape[1]} dimensions but the preference model expects "
                f"{self.dim}: the backbone or recipe differs from the one it was trained on"
            )
        z = (x - self.mean) / self.scale
        if self.kind == "linear":
            return z @ self.weights
        assert self.hidden_w is not None and self.hidden_b is not None and self.out_w is not None
        return np.tanh(z @ self.hidden_w + self.hidden_b) @ self.out_w

    def reward(self, features: np.ndarray) -> np.ndarray:
        """Centred reward: 0 is a typical reply, lower is more harmful."""
        return self.raw(features) - self.offset

    def centre(self, features: np.ndarray) -> None:
        self.offset = float(np.median(self.raw(features)))

    def arrays(self) -> dict[str, np.ndarray]:
        out = {"mean": self.mean, "scale": self.scale, "offset": np.array(self.offset)}
        if self.kind == "linear":
            out["weights"] = self.weights
        else:
            assert self.hidden_w is not None and self.hidden_b is not None
            assert self.out_w is not None
            out.update(hidden_w=self.hidden_w, hidden_b=self.hidden_b, out_w=self.out_w)
        return out

    @classmethod
    def from_arrays(cls, kind: str, arrays: Any) -> BradleyTerryHead:
        head = cls(
            mean=np.asarray(arrays["mean"]),
            scale=np.asarray(arrays["scale"]),
            kind=kind,
            offset=float(arrays["offset"]),
        )
        if kind == "linear":
            head.weights = np.asarray(arrays["weights"])
        elif kind == "mlp":
            head.hidden_w = np.asarray(arrays["hidden_w"])
            head.hidden_b = np.asarray(arrays["hidden_b"])
            head.out_w = np.asarray(arrays["out_w"])
        else:
            raise DataFormatError(f"unknown head kind {kind!r}")
        return head


def _standardiser(x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    mean = x.mean(axis=0)
    scale = x.std(axis=0)
    scale[scale < 1e-6] = 1.0
    return mean, scale


def fit_linear(
    chosen: np.ndarray, rejected: np.ndarray, *, seed: int = 0, c: float | None = None
) -> tuple[BradleyTerryHead, dict[str, Any]]:
    """Maximum-likelihood Bradley-Terry with an L2 penalty; C by 5-fold CV when not given.

    Each pair enters once, as chosen-minus-rejected or its negation (seeded coin flip),
    with the matching label: logistic regression without intercept on these differences
    maximises exactly the pairwise likelihood, and CV folds never split a pair.
    """
    import warnings

    from sklearn.linear_model import LogisticRegression, LogisticRegressionCV

    mean, scale = _standardiser(np.vstack([chosen, rejected]))
    diff = (chosen - rejected) / scale
    rng = np.random.default_rng(seed)
    sign = rng.choice([-1.0, 1.0], size=len(diff))
    x, y = diff * sign[:, None], (sign > 0).astype(int)
    if c is None:
        cv = LogisticRegressionCV(
            Cs=np.logspace(-4, 1, 11),
            cv=max(2, min(5, int(min(y.sum(), len(y) - y.sum())))),
            fit_intercept=False,
            scoring="neg_log_loss",
            max_iter=2000,
        )
        with warnings.catch_warnings():  # sklearn 1.8 API-transition notices, not problems
            warnings.simplefilter("ignore", FutureWarning)
            cv.fit(x, y)
        c = float(cv.C_[0])
    model = LogisticRegression(C=c, fit_intercept=False, max_iter=5000)
    model.fit(x, y)
    head = BradleyTerryHead(mean=mean, scale=scale, kind="linear", weights=model.coef_[0].copy())
    return head, {"head": "linear", "C": c}


def fit_mlp(
    chosen: np.ndarray,
    rejected: np.ndarray,
    *,
    hidden: int = 32,
    l2: float = 1.0,
    seed: int = 0,
    max_iter: int = 300,
) -> tuple[BradleyTerryHead, dict[str, Any]]:
    """A one-hidden-layer reward r = v . tanh(Wz + b), fit on the pairwise likelihood."""
    mean, scale = _standardiser(np.vstack([chosen, rejected]))
    zc, zr = (chosen - mean) / scale, (rejected - mean) / scale
    d, n = zc.shape[1], len(zc)
    rng = np.random.default_rng(seed)
    shapes = [(d, hidden), (hidden,), (hidden,)]
    sizes = [int(np.prod(s)) for s in shapes]

    def unpack(theta: np.ndarray) -> list[np.ndarray]:
        parts, start = [], 0
        for shape, size in zip(shapes, sizes, strict=True):
            parts.append(theta[start : start + size].reshape(shape))
            start += size
        return parts

    def loss(theta: np.ndarray) -> tuple[float, np.ndarray]:
        w, b, v = unpack(theta)
        hc, hr = np.tanh(zc @ w + b), np.tanh(zr @ w + b)
        margin = (hc - hr) @ v
        value = -log_expit(margin).sum() / n + l2 / (2 * n) * (np.sum(w * w) + np.sum(v * v))
        g = -expit(-margin) / n  # d loss / d margin
        gv = (hc - hr).T @ g + l2 / n * v
        dc = (g[:, None] * v) * (1 - hc * hc)
        dr = (g[:, None] * v) * (1 - hr * hr)
        gw = zc.T @ dc - zr.T @ dr + l2 / n * w
        gb = dc.sum(axis=0) - dr.sum(axis=0)
        return float(value), np.concatenate([gw.ravel(), gb, gv])

    theta0 = np.concatenate(
        [
            rng.normal(0, 1 / np.sqrt(d), sizes[0]),
            np.zeros(hidden),
            rng.normal(0, 1 / np.sqrt(hidden), hidden),
        ]
    )
    result = minimize(loss, theta0, jac=True, method="L-BFGS-B", options={"maxiter": max_iter})
    w, b, v = unpack(result.x)
    head = BradleyTerryHead(mean=mean, scale=scale, kind="mlp", hidden_w=w, hidden_b=b, out_w=v)
    return head, {"head": "mlp", "hidden": hidden, "l2": l2, "iterations": int(result.nit)}


def pair_metrics(
    head: BradleyTerryHead, chosen: np.ndarray, rejected: np.ndarray
) -> dict[str, Any]:
    """accuracy: share of pairs whose chosen reply scores higher; log_loss: mean
    -log sigmoid(r_chosen - r_rejected); auc: reply-level ROC AUC of the score separating
    chosen from rejected replies across all pairs (does 'low' mean harmful globally?)."""
    from sklearn.metrics import roc_auc_score

    rc, rr = head.reward(chosen), head.reward(rejected)
    margin = rc - rr
    labels = np.r_[np.ones(len(rc)), np.zeros(len(rr))]
    return {
        "pairs": len(margin),
        "accuracy": float(np.mean(margin > 0)),
        "auc": float(roc_auc_score(labels, np.r_[rc, rr])) if len(margin) else float("nan"),
        "log_loss": float(-np.mean(log_expit(margin))),
    }


@dataclass
class PreferenceModelFile:
    """A head plus what is needed to rebuild its features and to trust its scores."""

    head: BradleyTerryHead
    featurizer: dict[str, Any]
    metrics: dict[str, Any] = field(default_factory=dict)
    data_hash: str = ""
    training: dict[str, Any] = field(default_factory=dict)

    def meta(self) -> dict[str, Any]:
        return {
            "format": FORMAT,
            "head": self.head.kind,
            "featurizer": self.featurizer,
            "metrics": self.metrics,
            "data_hash": self.data_hash,
            "training": self.training,
        }

    @property
    def identity(self) -> str:
        """Short hash of everything that determines a score: stored with every score."""
        digest = hashlib.sha256(json.dumps(self.featurizer, sort_keys=True).encode())
        for name, array in sorted(self.head.arrays().items()):
            digest.update(name.encode())
            digest.update(np.ascontiguousarray(array, dtype=np.float64).tobytes())
        return digest.hexdigest()[:16]

    def save(self, path: str | Path) -> Path:
        """Write ``<path>.npz`` and ``<path>.json``; returns the json path."""
        base = Path(path)
        base = base.with_suffix("") if base.suffix in {".json", ".npz"} else base
        base.parent.mkdir(parents=True, exist_ok=True)
        arrays: dict[str, Any] = self.head.arrays()
        np.savez_compressed(base.with_suffix(".npz"), allow_pickle=False, **arrays)
        meta = base.with_suffix(".json")
        meta.write_text(json.dumps({**self.meta(), "identity": self.identity}, indent=2) + "\n")
        return meta

    @classmethod
    def load(cls, path: str | Path) -> PreferenceModelFile:
        base = Path(path)
        base = base.with_suffix("") if base.suffix in {".json", ".npz"} else base
        meta_path, arrays_path = base.with_suffix(".json"), base.with_suffix(".npz")
        if not meta_path.is_file() or not arrays_path.is_file():
            raise ConfigError(
                f"preference model {base}: need both {meta_path.name} and {arrays_path.name}"
            )
        try:
            meta = json.loads(meta_path.read_text())
            with np.load(arrays_path, allow_pickle=False) as arrays:
                head = BradleyTerryHead.from_arrays(meta["head"], arrays)
        except (ValueError, KeyError, OSError) as exc:
            raise DataFormatError(
                f"not a readable preference model: {exc}", path=str(base)
            ) from exc
        if meta.get("format") != FORMAT:
            raise DataFormatError(
                f"format {meta.get('format')!r}, expected {FORMAT}", path=str(base)
            )
        return cls(
            head=head,
            featurizer=meta["featurizer"],
            metrics=meta.get("metrics", {}),
            data_hash=meta.get("data_hash", ""),
            training=meta.get("training", {}),
        )
