"""Harmlessness PM speed: scoring throughput (cold and cached) and one rejection-sampling turn.

Prints one JSON line per measurement. Cold = features computed by a forward pass of the
backbone; cached = the same utterances again (feature cache hit, head only). The rs turn
measures ``smollm2-135m/rs16`` end to end and splits it into sampling (16 samples, with
the generating model's own hidden states) and scoring, to check that scoring adds at most
15% to sampling; it also times the second-forward-pass alternative (``score_batch``).

Usage: python benchmarks/pm_bench.py [--utterances 32] [--skip-rs]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import numpy as np
from common import emit

from redline.config import load_settings
from redline.data import harmless_base_pairs
from redline.harmlessness import DEFAULT_PM, PreferenceModelScorer
from redline.harmlessness.pairs import load_pair_files
from redline.targets.base import Message

PAIRS = harmless_base_pairs()


def throughput(n_utterances: int) -> None:
    pairs = load_pair_files([PAIRS]).pairs[-(n_utterances // 2) :]
    contexts = [p.context for p in pairs for _ in (0, 1)]
    replies = [r for p in pairs for r in (p.chosen, p.rejected)]
    with tempfile.TemporaryDirectory() as cache:
        scorer = PreferenceModelScorer.from_file(DEFAULT_PM, cache_dir=cache)
        _ = scorer.featurizer  # load the model outside the timing
        start = time.perf_counter()
        cold = scorer.score_many(contexts, replies)
        cold_s = time.perf_counter() - start
        start = time.perf_counter()
        warm = scorer.score_many(contexts, replies)
        warm_s = time.perf_counter() - start
    assert np.allclose(cold, warm)
    emit("pm_score", "cold_throughput", len(replies) / cold_s, "utterances/s", n=len(replies))
    emit("pm_score", "cached_throughput", len(replies) / warm_s, "utterances/s", n=len(replies))
    vectors = np.asarray(scorer.featurizer.embed_spans(contexts[:16], replies[:16]))
    start = time.perf_counter()
    for _ in range(100):
        scorer.score_embeddings(list(vectors))
    emit("pm_score", "embeddings_16", (time.perf_counter() - start) / 100 * 1000, "ms")


def rs_turn() -> None:
    from redline.targets.registry import build_target

    # The built-in target with the 64-token replies of the spec and a timeout that
    # tolerates a shared, busy CPU (the default 120 s is for interactive use).
    folder = Path(tempfile.mkdtemp())
    targets = folder / "targets.toml"
    targets.write_text(
        '[[targets]]\nname = "smollm2-135m/rs16"\nbackend = "llamacpp"\n'
        'model = "smollm2-135m"\nmax_tokens = 64\ntimeout_s = 1800\n'
    )
    settings = load_settings(data_dir=folder, targets_file=targets)
    target = build_target("smollm2-135m/rs16", settings)
    conversation = [Message("human", "How can I get back at my neighbour for his loud dog?")]
    target.reply(conversation, n=2, seed=0)  # warm-up: model load, prompt KV cache
    backend, scorer = target.backend, target.scorer  # type: ignore[attr-defined]
    messages = target.prompted.messages(conversation)  # type: ignore[attr-defined]

    start = time.perf_counter()
    shown = target.reply(conversation, n=2, seed=1)
    wall = time.perf_counter() - start
    emit("rs_turn", "wall_s", wall, "s", k=16, shown=len(shown))

    start = time.perf_counter()
    samples = backend.generate(messages, n=16, max_tokens=64, temperature=0.8, seed=1, embed=True)
    sample_s = time.perf_counter() - start
    embeddings = [s.meta["embedding"] for s in samples]
    start = time.perf_counter()
    scorer.score_embeddings(embeddings)
    score_s = time.perf_counter() - start
    emit("rs_turn", "sampling_s", sample_s, "s", k=16, max_tokens=64)
    emit("rs_turn", "scoring_s", score_s, "s", method="score_embeddings")
    emit("rs_turn", "scoring_overhead", score_s / sample_s, "fraction", target=0.15)
    start = time.perf_counter()
    scorer.score_batch(conversation, [s.text for s in samples])
    second = time.perf_counter() - start
    emit("rs_turn", "second_pass_scoring_s", second, "s", method="score_batch")
    emit("rs_turn", "second_pass_overhead", second / sample_s, "fraction")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--utterances", type=int, default=32)
    parser.add_argument("--skip-rs", action="store_true")
    parser.add_argument("--skip-throughput", action="store_true")
    args = parser.parse_args()
    if not args.skip_throughput:
        throughput(args.utterances)
    if not args.skip_rs:
        rs_turn()


if __name__ == "__main__":
    main()
