"""Feature study for the harmlessness PM: every layer of a GGUF backbone, then heads.

Step 1 (``features``) runs each (context, reply) of pairs-a through llama.cpp once, with
an eval callback that copies the residual stream after every layer (``l_out-N``, before
the final norm), and saves per layer the reply-token mean, the last reply token and the
whole-exchange mean as float16 parts (resumable: finished parts are skipped).
Step 2 (``compare``) fits the linear Bradley-Terry head on feature designs built from
them, scored by 5-fold CV with C chosen by an inner 3-fold CV (no peeking at test folds).

Why a callback: the llama.cpp embeddings API returns only the final layer; this study
tells whether another layer or a mix would be worth exposing.

  python scripts/pm_layer_study.py features smollm2-135m .redline/layer-study/smollm2
  python scripts/pm_layer_study.py compare .redline/layer-study/smollm2 [--other DIR]
"""

from __future__ import annotations

import argparse
import ctypes
import time
import warnings
from pathlib import Path

import numpy as np

from redline.data import harmless_base_pairs

PAIRS = harmless_base_pairs()
PART = 100  # pairs per saved part
POOLS = ("reply_mean", "reply_last", "exchange_mean")


def features(backbone: str, out: Path, threads: int) -> None:
    import llama_cpp
    import llama_cpp.llama

    from redline.harmlessness.features import GGUFFeaturizer
    from redline.harmlessness.pairs import load_pair_files

    lib = ctypes.CDLL(str(Path(llama_cpp.__file__).parent / "lib/libggml-base.so"))
    lib.ggml_get_name.restype = ctypes.c_char_p
    lib.ggml_get_name.argtypes = [ctypes.c_void_p]
    lib.ggml_nelements.restype = ctypes.c_int64
    lib.ggml_nelements.argtypes = [ctypes.c_void_p]
    lib.ggml_backend_tensor_get.argtypes = [
        ctypes.c_void_p, ctypes.c_void_p, ctypes.c_size_t, ctypes.c_size_t
    ]  # fmt: skip
    captured: dict[int, np.ndarray] = {}

    @llama_cpp.ggml_backend_sched_eval_callback
    def tap(tensor: int, ask: bool, _user: int) -> bool:
        name = lib.ggml_get_name(tensor)
        if ask:  # "do you want this tensor?": only the residual stream after each layer
            return bool(name.startswith(b"l_out-"))
        values = np.empty(lib.ggml_nelements(tensor), dtype=np.float32)
        lib.ggml_backend_tensor_get(tensor, values.ctypes.data, 0, values.nbytes)
        captured[int(name[len("l_out-") :])] = values
        return True  # keep computing

    # llama_cpp.Llama builds its context from llama_context_default_params(): hand it one
    # with the callback set (study-only; the product reads the final layer only).
    default_params = llama_cpp.llama_context_default_params

    def params_with_tap() -> object:
        params = default_params()
        params.cb_eval = tap
        return params

    llama_cpp.llama.llama_cpp.llama_context_default_params = params_with_tap  # type: ignore[attr-defined]
    feat = GGUFFeaturizer(backbone, n_threads=threads)
    dim = feat.dim
    pairs = load_pair_files([PAIRS]).pairs
    out.mkdir(parents=True, exist_ok=True)
    started = time.time()
    for first in range(0, len(pairs), PART):
        target = out / f"part{first // PART:03d}.npy"
        if target.exists():
            continue
        rows = []
        for pair in pairs[first : first + PART]:
            prefix = feat.render_prefix(pair.context)
            per_reply = []
            for reply in (pair.chosen, pair.rejected):
                rendered = feat._tokens(prefix, reply)
                feat._llm._ctx.kv_cache_clear()
                captured.clear()
                feat._decode(rendered.prefix + rendered.reply, 0, outputs=True)
                layers = np.stack([captured[i].reshape(-1, dim) for i in sorted(captured)])
                n_p, n_r = len(rendered.prefix), len(rendered.reply)
                reply_states = layers[:, n_p : n_p + n_r]
                per_reply.append(
                    np.stack([reply_states.mean(axis=1), reply_states[:, -1], layers.mean(axis=1)])
                )
            rows.append(np.stack(per_reply))  # (2 replies, 3 pools, layers, dim)
        np.save(target, np.stack(rows).astype(np.float16))
        print(f"{min(first + PART, len(pairs))}/{len(pairs)} pairs, {time.time() - started:.0f}s")


def load(directory: Path) -> np.ndarray:
    """(pairs, 2 [chosen, rejected], 3 pools, layers, dim)."""
    return np.concatenate([np.load(p) for p in sorted(directory.glob("part*.npy"))]).astype(
        np.float32
    )


def cv_accuracy(feats: np.ndarray, seed: int = 0) -> tuple[float, float]:
    """5-fold CV accuracy of the linear BT head (C by inner 3-fold CV on each train part)."""
    from sklearn.linear_model import LogisticRegressionCV
    from sklearn.model_selection import KFold

    scale = feats.reshape(-1, feats.shape[-1]).std(axis=0) + 1e-6
    diff = (feats[:, 0] - feats[:, 1]) / scale
    sign = np.random.default_rng(seed).choice([-1.0, 1.0], size=len(diff))
    x, y = diff * sign[:, None], (sign > 0).astype(int)
    accs = []
    for train, test in KFold(5, shuffle=True, random_state=seed).split(x):
        head = LogisticRegressionCV(
            Cs=[1e-4, 3e-4, 1e-3, 3e-3, 1e-2, 1e-1],
            cv=3,
            fit_intercept=False,
            scoring="neg_log_loss",
            max_iter=3000,
        ).fit(x[train], y[train])
        accs.append(float(((diff[test] @ head.coef_[0]) > 0).mean()))
    return float(np.mean(accs)), float(np.std(accs))


def compare(directory: Path, other: Path | None) -> None:
    warnings.simplefilter("ignore")
    a = load(directory)
    last = a.shape[3] - 1
    designs = {
        f"final layer ({last}) reply mean": a[:, :, 0, last],
        f"final layer ({last}) last reply token": a[:, :, 1, last],
        f"final layer ({last}) exchange mean": a[:, :, 2, last],
        f"final layer ({last}) reply mean + last token": np.concatenate(
            [a[:, :, 0, last], a[:, :, 1, last]], -1
        ),
        "all layers averaged, reply mean": a[:, :, 0].mean(axis=2),
    }
    for layer in range(0, last, max(1, last // 6)):
        designs[f"layer {layer} reply mean"] = a[:, :, 0, layer]
    if other is not None:
        b = load(other)
        n = min(len(a), len(b))
        designs = {k: v[:n] for k, v in designs.items()}
        designs[f"{other.name} final layer reply mean"] = b[:n, :, 0, -1]
        designs[f"{directory.name} + {other.name} final reply means"] = np.concatenate(
            [a[:n, :, 0, last], b[:n, :, 0, -1]], -1
        )
    print("| design | pairs | 5-fold CV accuracy (sd) |\n|---|---|---|")
    for name, feats in designs.items():
        mean, sd = cv_accuracy(feats)
        print(f"| {name} | {len(feats)} | {mean:.3f} ({sd:.3f}) |", flush=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="step", required=True)
    f = sub.add_parser("features")
    f.add_argument("backbone")
    f.add_argument("out", type=Path)
    f.add_argument("--threads", type=int, default=1)
    c = sub.add_parser("compare")
    c.add_argument("directory", type=Path)
    c.add_argument("--other", type=Path, default=None, help="a second backbone's parts")
    args = parser.parse_args()
    if args.step == "features":
        features(args.backbone, args.out, args.threads)
    else:
        compare(args.directory, args.other)


if __name__ == "__main__":
    main()
