"""What makes a better PM: counter-bias pairs, another backbone, both backbones joined?

Measures, for the packaged recipe (reply-token mean of a backbone's hidden states, linear
head, C by CV) on each ``--backbones`` and on their joined features (an ensemble), with and
without the packaged counter-bias pairs on the training side:
- held-out accuracy on the seeded 20% of pairs-a (binomial-style bootstrap interval) and
  the same accuracy split by which reply the refusal detector flags;
- the share of the shipped benign set (judges/data/benign.json, evaluation only) whose
  helpful answer scores above the refusal, with a Wilson interval;
- 5-fold CV accuracy over all pairs-a pairs (counter pairs added to each training fold);
- a learning curve (first backbone): random subsets of the 80% training split, scored
  on the fixed 20%.

Features come from the data directory's cache (``redline pm train`` fills it), so after the
first run this only refits heads. Prints one JSON line per measurement
(``{"bench": "pm_study", ...}``) and a summary.

    python benchmarks/pm_study.py --sizes 400,800,1200,0 --repeats 5
    python benchmarks/pm_study.py --weights 1,2,4 --sizes '' --folds 0
    python benchmarks/pm_study.py --backbones smollm2-135m,gemma3-270m --sizes ''
"""

from __future__ import annotations

import argparse
import json
from dataclasses import dataclass
from typing import Any

import numpy as np

from redline.config import load_settings
from redline.data import harmless_base_pairs
from redline.harmlessness.backbones import DEFAULT_RECIPE, build_featurizer
from redline.harmlessness.bradley_terry import BradleyTerryHead, fit_linear, fit_mlp
from redline.harmlessness.features import cached_span_features
from redline.harmlessness.pairs import PairSet, load_counter_pairs, load_pair_files
from redline.harmlessness.training import feature_cache_dir, featurize_pairs, split_indices
from redline.judges import calibration as cal
from redline.judges.benign import load_benign
from redline.judges.refusal import RefusalLexiconJudge
from redline.statistics import mean_ci, wilson


def emit(metric: str, value: Any, **extra: Any) -> None:
    print(json.dumps({"bench": "pm_study", "metric": metric, "value": value, **extra}))


#: The L2 strength of every linear fit (None: by 5-fold CV, as ``redline pm train`` does).
C: float | None = None
#: The head of every fit: linear (the packaged kind) or mlp (one hidden layer).
HEAD = "linear"


def fit(
    chosen: np.ndarray, rejected: np.ndarray, extra: tuple[np.ndarray, np.ndarray] | None, w: int
) -> BradleyTerryHead:
    """The product's fit (``--head``); ``extra`` pairs repeated ``w`` times (a weight)."""
    if extra is not None and w > 0:
        chosen = np.vstack([chosen, *[extra[0]] * w])
        rejected = np.vstack([rejected, *[extra[1]] * w])
    if HEAD == "mlp":
        return fit_mlp(chosen, rejected, seed=0)[0]
    return fit_linear(chosen, rejected, seed=0, c=C)[0]


def correct(head: BradleyTerryHead, chosen: np.ndarray, rejected: np.ndarray) -> np.ndarray:
    """1 right, 0.5 tie, 0 wrong (the calibration's convention)."""
    rc, rr = head.reward(chosen), head.reward(rejected)
    return np.where(rc > rr, 1.0, np.where(rc == rr, 0.5, 0.0))


def benign_share(head: BradleyTerryHead, helpful: np.ndarray, refusal: np.ndarray) -> dict:
    wins = int((head.reward(helpful) > head.reward(refusal)).sum())
    lo, hi = wilson(wins, len(helpful), 0.95)
    return {"value": wins / len(helpful), "lo": lo, "hi": hi, "n": len(helpful)}


@dataclass
class Features:
    """One backbone's features of everything the study fits and measures."""

    chosen: np.ndarray
    rejected: np.ndarray
    extra: tuple[np.ndarray, np.ndarray]
    helpful: np.ndarray
    refusal: np.ndarray

    def join(self, other: Features) -> Features:
        """Both backbones side by side: the ensemble a linear head can fit."""
        return Features(
            np.hstack([self.chosen, other.chosen]),
            np.hstack([self.rejected, other.rejected]),
            (
                np.hstack([self.extra[0], other.extra[0]]),
                np.hstack([self.extra[1], other.extra[1]]),
            ),
            np.hstack([self.helpful, other.helpful]),
            np.hstack([self.refusal, other.refusal]),
        )


def features(backbone: str, pairs: PairSet, counter: PairSet, items: list[Any]) -> Features:
    settings = load_settings()
    featurizer = build_featurizer({**DEFAULT_RECIPE, "backbone": backbone})
    cache = feature_cache_dir(settings)
    chosen, rejected = featurize_pairs(pairs, featurizer, cache)
    extra = featurize_pairs(counter, featurizer, cache)
    contexts = [item.context for item in items]
    helpful = cached_span_features(featurizer, contexts, [i.helpful for i in items], cache)
    refusal = cached_span_features(featurizer, contexts, [i.refusal for i in items], cache)
    return Features(chosen, rejected, extra, helpful, refusal)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--weights", default="1", help="Counter-pair weights (repeats) to try.")
    parser.add_argument("--sizes", default="400,800,1200,0", help="Curve sizes (0 = all).")
    parser.add_argument("--repeats", type=int, default=5, help="Random subsets per size.")
    parser.add_argument("--folds", type=int, default=5, help="CV folds (0 = skip).")
    parser.add_argument(
        "--backbones",
        default="smollm2-135m",
        help="Comma-separated; with two, their joined features (the ensemble) are measured too.",
    )
    parser.add_argument("--c", type=float, default=None, help="L2 C (default: by CV).")
    parser.add_argument("--head", choices=("linear", "mlp"), default="linear")
    args = parser.parse_args()
    global C, HEAD
    C, HEAD = args.c, args.head
    weights = [int(w) for w in args.weights.split(",") if w]
    sizes = [int(s) for s in args.sizes.split(",") if s]

    pairs = load_pair_files([harmless_base_pairs()])
    counter = load_counter_pairs()
    items = list(load_benign())
    names = [b for b in args.backbones.split(",") if b]
    configs = {name: features(name, pairs, counter, items) for name in names}
    if len(names) == 2:
        configs["+".join(names)] = configs[names[0]].join(configs[names[1]])
    train, val = split_indices(len(pairs.pairs), cal.PM_VAL_FRACTION, cal.PM_SEED)
    val_pairs = [pairs.pairs[i] for i in val]
    detector = RefusalLexiconJudge()
    ok = np.ones(len(val), dtype=bool)

    summary: dict[str, Any] = {}
    for backbone, f in configs.items():
        for w in [0, *weights]:
            name = f"{backbone} " + ("without" if w == 0 else f"counter x{w}")
            head = fit(f.chosen[train], f.rejected[train], f.extra if w else None, w)
            right = correct(head, f.chosen[val], f.rejected[val])
            acc, lo, hi = mean_ci(right, n_boot=1000, seed=0)
            split = cal.refusal_split(val_pairs, right, ok, detector)
            row = {
                "held_out": {"value": acc, "lo": lo, "hi": hi, "n": len(val)},
                "rejected_refuses": split["rejected_refuses"],
                "chosen_refuses": split["chosen_refuses"],
                "neither_refuses": split["neither_refuses"],
                "benign_prefers_helpful": benign_share(head, f.helpful, f.refusal),
                "counter_train_accuracy": float(correct(head, *f.extra).mean()),
            }
            summary[name] = row
            emit("split", row, config=name)

        if args.folds:
            from sklearn.model_selection import KFold

            folds = KFold(args.folds, shuffle=True, random_state=0).split(f.chosen)
            cv: dict[str, list[float]] = {"without": [], "with": []}
            for tr, te in folds:
                for name, use in (("without", None), ("with", f.extra)):
                    head = fit(f.chosen[tr], f.rejected[tr], use, weights[0] if use else 0)
                    cv[name].append(float(correct(head, f.chosen[te], f.rejected[te]).mean()))
            for name, values in cv.items():
                mean, lo, hi = mean_ci(np.array(values), n_boot=1000, seed=0)
                row = {"mean": mean, "sd": float(np.std(values, ddof=1)), "folds": values}
                summary[f"{backbone} cv_{name}"] = row
                emit("cv_accuracy", row, config=f"{backbone} {name}", folds=args.folds)

    f = configs[names[0]]
    rng = np.random.default_rng(0)
    for size in sizes:
        n = len(train) if size in (0, len(train)) or size > len(train) else size
        curve: dict[str, list[float]] = {"without": [], "with": []}
        benign_curve: list[float] = []
        for _ in range(args.repeats if n < len(train) else 1):
            subset = np.sort(rng.choice(train, size=n, replace=False))
            for name, use in (("without", None), ("with", f.extra)):
                head = fit(f.chosen[subset], f.rejected[subset], use, weights[0] if use else 0)
                curve[name].append(float(correct(head, f.chosen[val], f.rejected[val]).mean()))
                if use is not None:
                    benign_curve.append(benign_share(head, f.helpful, f.refusal)["value"])
        row = {
            name: {"mean": float(np.mean(v)), "sd": float(np.std(v)) if len(v) > 1 else 0.0}
            for name, v in curve.items()
        }
        row["benign_with"] = {"mean": float(np.mean(benign_curve))}
        summary[f"curve_{n}"] = row
        emit("curve", row, backbone=names[0], pairs=n, repeats=len(curve["with"]))
    print(json.dumps({"bench": "pm_study", "metric": "summary", "value": summary}, indent=1))


if __name__ == "__main__":
    main()
