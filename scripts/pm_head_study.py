"""Feature study for the harmlessness PM, step 2: compare feature designs and heads.

Reads the features ``scripts/pm_feature_study.py`` cached (only pairs cached for every
backbone asked are used), splits pairs-a with the same seeded split as ``redline pm
train`` (seed 0, 20% validation) and prints one JSON line per design with validation
accuracy / AUC / log loss. TF-IDF baselines need no model.

Usage: python scripts/pm_head_study.py [--backbones smollm2-135m gemma3-270m]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from redline.config import load_settings
from redline.data import harmless_base_pairs
from redline.harmlessness.bradley_terry import fit_linear, fit_mlp, pair_metrics
from redline.harmlessness.features import (
    POOLINGS,
    FeatureCache,
    GGUFFeaturizer,
    context_key,
)
from redline.harmlessness.pairs import load_pair_files
from redline.harmlessness.training import split_indices

PAIRS = harmless_base_pairs()


def load_cached(backbone: str, pairs: list, cache: FeatureCache) -> dict[str, np.ndarray]:
    feat = GGUFFeaturizer(backbone, n_threads=1)
    out: dict[str, np.ndarray] = {}
    for pooling in POOLINGS:
        fid = feat.cache_namespace(pooling)
        rows = []
        for pair in pairs:
            ck = context_key(pair.context)
            rows.append([cache.get(cache.key(fid, ck, r)) for r in (pair.chosen, pair.rejected)])
        out[pooling] = rows  # type: ignore[assignment]
    return out


def paired_comparison(
    lm: tuple[np.ndarray, np.ndarray],
    chosen_txt: list[str],
    rejected_txt: list[str],
    folds: int,
    boot: int = 2000,
) -> None:
    """LM features against TF-IDF on the same CV folds (vocabulary fit inside each fold),
    with a paired bootstrap 95% interval of the accuracy difference: is the LM clearly
    better than bag-of-words, or within noise?"""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.model_selection import KFold

    c_lm, r_lm = lm
    right = {"lm": np.zeros(len(c_lm), bool), "tfidf": np.zeros(len(c_lm), bool)}
    for tr_f, va_f in KFold(folds, shuffle=True, random_state=0).split(c_lm):
        head, _ = fit_linear(c_lm[tr_f], r_lm[tr_f], seed=0)
        right["lm"][va_f] = head.reward(c_lm[va_f]) > head.reward(r_lm[va_f])
        vec = TfidfVectorizer(min_df=2, max_features=5000, ngram_range=(1, 2), sublinear_tf=True)
        vec.fit([chosen_txt[k] for k in tr_f] + [rejected_txt[k] for k in tr_f])
        c_tf = vec.transform(chosen_txt).toarray()
        r_tf = vec.transform(rejected_txt).toarray()
        head, _ = fit_linear(c_tf[tr_f], r_tf[tr_f], seed=0)
        right["tfidf"][va_f] = head.reward(c_tf[va_f]) > head.reward(r_tf[va_f])
    diff = right["lm"].astype(float) - right["tfidf"].astype(float)
    rng = np.random.default_rng(0)
    samples = [diff[rng.integers(0, len(diff), len(diff))].mean() for _ in range(boot)]
    low, high = np.percentile(samples, [2.5, 97.5])
    print(
        json.dumps(
            {
                "paired_cv": "reply_mean vs tfidf:reply (vocabulary per fold)",
                "cv_folds": folds,
                "pairs": len(diff),
                "lm_accuracy": round(float(right["lm"].mean()), 4),
                "tfidf_accuracy": round(float(right["tfidf"].mean()), 4),
                "difference": round(float(diff.mean()), 4),
                "difference_ci95": [round(float(low), 4), round(float(high), 4)],
            }
        ),
        flush=True,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--backbones", nargs="+", default=["smollm2-135m"])
    parser.add_argument("--pairs", default=str(PAIRS))
    parser.add_argument("--mlp", action="store_true")
    parser.add_argument("--mlp-l2", type=float, default=300.0)
    parser.add_argument(
        "--folds", type=int, default=0, help="Also K-fold CV accuracy over all cached pairs."
    )
    args = parser.parse_args()
    pairs = load_pair_files([args.pairs]).pairs
    train_all, val_all = split_indices(len(pairs), 0.2, 0)
    cache = FeatureCache(load_settings().cache_dir / "features")
    raw = {b: load_cached(b, pairs, cache) for b in args.backbones}
    ok = [
        i
        for i in range(len(pairs))
        if all(v is not None for b in raw.values() for rows in b.values() for v in rows[i])
    ]
    okset = set(ok)
    train = [i for i in train_all if i in okset]
    val = [i for i in val_all if i in okset]
    print(json.dumps({"pairs_with_features": len(ok), "train": len(train), "val": len(val)}))

    def block(backbone: str, pooling: str) -> tuple[np.ndarray, np.ndarray]:
        rows = raw[backbone][pooling]
        return (
            np.stack([rows[i][0] for i in range(len(pairs)) if i in okset]),
            np.stack([rows[i][1] for i in range(len(pairs)) if i in okset]),
        )

    pos = {i: k for k, i in enumerate(ok)}
    tr, va = [pos[i] for i in train], [pos[i] for i in val]
    designs: dict[str, tuple[np.ndarray, np.ndarray]] = {}
    for b in args.backbones:
        for p in POOLINGS:
            designs[f"{b}:{p}"] = block(b, p)
        c1, r1 = designs[f"{b}:reply_mean"]
        c2, r2 = designs[f"{b}:exchange_mean"]
        designs[f"{b}:reply_mean+exchange_mean"] = (np.hstack([c1, c2]), np.hstack([r1, r2]))
    if len(args.backbones) > 1:
        cs, rs = zip(*(designs[f"{b}:reply_mean"] for b in args.backbones), strict=True)
        designs["+".join(args.backbones) + ":reply_mean"] = (np.hstack(cs), np.hstack(rs))

    # TF-IDF baselines: fit the vocabulary on training replies only.
    from sklearn.feature_extraction.text import TfidfVectorizer

    chosen_txt = [pairs[i].chosen for i in ok]
    rejected_txt = [pairs[i].rejected for i in ok]
    last_human = [
        next((m.text for m in reversed(pairs[i].context) if m.role == "human"), "") for i in ok
    ]
    for name, fc, fr in (
        ("tfidf:reply", chosen_txt, rejected_txt),
        (
            "tfidf:exchange",
            [h + " || " + c for h, c in zip(last_human, chosen_txt, strict=True)],
            [h + " || " + r for h, r in zip(last_human, rejected_txt, strict=True)],
        ),
    ):
        vec = TfidfVectorizer(min_df=2, max_features=5000, ngram_range=(1, 2), sublinear_tf=True)
        vec.fit([fc[k] for k in tr] + [fr[k] for k in tr])
        designs[name] = (vec.transform(fc).toarray(), vec.transform(fr).toarray())
    c1, r1 = designs[f"{args.backbones[0]}:reply_mean"]
    c2, r2 = designs["tfidf:reply"]
    designs[f"{args.backbones[0]}:reply_mean+tfidf:reply"] = (
        np.hstack([c1, c2]),
        np.hstack([r1, r2]),
    )

    if args.folds:
        from sklearn.model_selection import KFold

        for name, (c, r) in designs.items():
            if name.startswith("tfidf") or "tfidf" in name:
                continue  # vocabulary would leak across folds; see the split results above
            accs = []
            for tr_f, va_f in KFold(args.folds, shuffle=True, random_state=0).split(c):
                head, _ = fit_linear(c[tr_f], r[tr_f], seed=0)
                accs.append(pair_metrics(head, c[va_f], r[va_f])["accuracy"])
            print(
                json.dumps(
                    {
                        "design": name,
                        "head": "linear",
                        "cv_folds": args.folds,
                        "pairs": len(c),
                        "cv_accuracy": round(float(np.mean(accs)), 4),
                        "cv_sd": round(float(np.std(accs)), 4),
                    }
                ),
                flush=True,
            )

    if args.folds:
        paired_comparison(
            designs[f"{args.backbones[0]}:reply_mean"], chosen_txt, rejected_txt, args.folds
        )

    for name, (c, r) in designs.items():
        heads = ["linear", "mlp"] if args.mlp and not name.startswith("tfidf") else ["linear"]
        for head_kind in heads:
            if head_kind == "linear":
                head, info = fit_linear(c[tr], r[tr], seed=0)
            else:
                head, info = fit_mlp(c[tr], r[tr], seed=0, l2=args.mlp_l2)
            head.centre(np.vstack([c[tr], r[tr]]))
            m = pair_metrics(head, c[va], r[va])
            print(
                json.dumps(
                    {
                        "design": name,
                        "head": head_kind,
                        "dim": c.shape[1],
                        "train_acc": round(pair_metrics(head, c[tr], r[tr])["accuracy"], 3),
                        **{k: round(v, 4) if isinstance(v, float) else v for k, v in m.items()},
                        **{k: v for k, v in info.items() if k != "head"},
                    }
                ),
                flush=True,
            )


if __name__ == "__main__":
    main()
