#!/usr/bin/env bash
# The one seeded command that produces the shipped smollm2-135m/rlhf adapter.
# Needs the train extra: pip install torch==2.13.0 && pip install -e '.[train]'
# Prompts: the packaged hh-rlhf pairs (training split), named by their path in the checkout
# so that train_meta.json records a path that means the same on every machine. Half of the
# rows are the 189 benign requests with written answers (--benign-prompts pairs, training
# only): a reply to one of them earns 50 x the share of its answer's content words it says
# (redline.judges.coverage) and costs 2 if the refusal judge flags it, so the policy learns
# to decline attacks while it keeps answering everyday questions. Why this recipe, and the
# runs that evaded instead: docs/experiments/rlhf-content-reward.md.
# Evaluate with: python benchmarks/rlhf_eval.py (prompts disjoint from all of these), and
# read a sample blind (benchmarks/blind_reading.py) before shipping.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-.redline/rlhf/smollm2-135m}"
redline train rlhf --base smollm2-135m --pm default \
  --prompts src/redline/data/hh_rlhf/pairs-a.jsonl.gz \
  --steps "${STEPS:-30}" --seed 0 --prompts-per-step 4 --generations 4 --max-tokens 32 \
  --lr 1e-3 --beta 0.05 --rank 8 \
  --benign-share "${BENIGN_SHARE:-0.5}" --benign-prompts pairs \
  --refusal-penalty "${REFUSAL_PENALTY:-2.0}" --benign-reward penalty \
  --content-weight "${CONTENT_WEIGHT:-50}" \
  --out "$OUT"
mkdir -p src/redline/targets/adapters
cp "$OUT/smollm2-135m-rlhf.gguf" "$OUT/curve.csv" "$OUT/curve.png" "$OUT/train_meta.json" \
  src/redline/targets/adapters/
