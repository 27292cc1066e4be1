"""Feature study for the harmlessness PM, step 1: cache every pooling of one backbone.

One forward pass per pair (shared context, two replies) yields three poolings (reply-token
mean, last reply token, whole-exchange mean). Each goes into the shared feature cache
under its own recipe id, so ``redline pm train`` on the same pairs reuses them and
``scripts/pm_head_study.py`` fits heads on them. Resumable: cached pairs are skipped.

Usage: python scripts/pm_feature_study.py smollm2-135m [--limit N] [--threads 1]
"""

from __future__ import annotations

import argparse
import time

from rich.progress import Progress

from redline.config import load_settings
from redline.data import harmless_base_pairs
from redline.harmlessness.features import POOLINGS, FeatureCache, GGUFFeaturizer, context_key
from redline.harmlessness.pairs import load_pair_files

PAIRS = harmless_base_pairs()


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("backbone")
    parser.add_argument("--pairs", default=str(PAIRS))
    parser.add_argument("--limit", type=int, default=0)
    parser.add_argument("--start", type=int, default=0, help="Skip the first N pairs.")
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    pairs = load_pair_files([args.pairs]).pairs
    if args.limit:
        pairs = pairs[: args.limit]
    pairs = pairs[args.start :]
    feat = GGUFFeaturizer(args.backbone, n_threads=args.threads)
    cache = FeatureCache(load_settings().cache_dir / "features")
    start, n_tok, computed = time.time(), 0, 0
    with Progress() as bar:
        task = bar.add_task(args.backbone, total=len(pairs))
        for pair in pairs:
            replies = [pair.chosen, pair.rejected]
            keys = {
                (p, r): cache.key(feat.cache_namespace(p), context_key(pair.context), r)
                for p in POOLINGS
                for r in replies
            }
            if all(cache.get(k) is not None for k in keys.values()):
                bar.advance(task)
                continue
            states = feat.span_states(pair.context, replies)
            for reply, state in zip(replies, states, strict=True):
                for p in POOLINGS:
                    cache.put(keys[(p, reply)], state[p])
            n_tok += sum(s["tokens"] for s in states)
            computed += 1
            bar.advance(task)
    print(
        f"{computed} pairs computed, {n_tok} tokens (prefix counted per reply) in "
        f"{time.time() - start:.0f}s"
    )


if __name__ == "__main__":
    main()
