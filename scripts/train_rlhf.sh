#!/usr/bin/env bash
# The one seeded command that produces the shipped smollm2-135m/rlhf adapter.
# Needs the train extra: pip install torch==2.13.0 && pip install -e '.[train]'
# Prompts: the packaged hh-rlhf pairs (training split), named by their path in the checkout
# so that train_meta.json records a path that means the same on every machine, with the
# packaged benign requests (redline/rlhf/benign_prompts.json) as half of the rows: a reply
# to one of them that the refusal judge flags costs 2 (and earns nothing else), so the
# policy learns to refuse attacks without refusing everyday questions.
# Evaluate with: python benchmarks/rlhf_eval.py (prompts disjoint from all of these).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${OUT:-.redline/rlhf/smollm2-135m}"
redline train rlhf --base smollm2-135m --pm default \
  --prompts src/redline/data/hh_rlhf/pairs-a.jsonl.gz \
  --steps "${STEPS:-14}" --seed 0 --prompts-per-step 2 --generations 4 --max-tokens 32 \
  --lr 1e-3 --beta 0.05 --rank 8 \
  --benign-share "${BENIGN_SHARE:-0.5}" --benign-prompts packaged \
  --refusal-penalty "${REFUSAL_PENALTY:-2.0}" --benign-reward "${BENIGN_REWARD:-penalty}" \
  --out "$OUT"
mkdir -p src/redline/targets/adapters
cp "$OUT/smollm2-135m-rlhf.gguf" "$OUT/curve.csv" "$OUT/curve.png" "$OUT/train_meta.json" \
  src/redline/targets/adapters/
