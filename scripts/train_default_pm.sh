#!/usr/bin/env bash
# Train the packaged default harmlessness PM (src/redline/harmlessness/default_pm.{npz,json}).
#
# Seeded and repeatable: SmolLM2-135M-Instruct reply-token mean features (bounded context:
# last 300 characters of the conversation, first 64 reply tokens), a linear Bradley-Terry
# head (L2, C by 5-fold CV), seed 0, 20% of the pairs held out for validation; the
# validation metrics are stored in default_pm.json. Features are cached in .redline/cache,
# so a rerun only refits the head.
#
# LIMIT: number of pairs-a pairs used (first N in file order; 0, the default, uses all
# 1,594 usable pairs). Features come from the weights file llama.cpp runs (on CPUs with
# native BF16 the BF16 copy of the shipped Q4_1 file: see redline.targets.weights).
set -euo pipefail
cd "$(dirname "$0")/.."
# Default pairs: the packaged hh-rlhf harmless-base pairs (see its PROVENANCE.md).
PAIRS="${PAIRS:-src/redline/data/hh_rlhf/pairs-a.jsonl.gz}"
LIMIT="${LIMIT:-0}"
redline pm train --pairs "$PAIRS" --limit "$LIMIT" --seed 0 --val-fraction 0.2 \
  --backbone smollm2-135m --head linear --name default \
  --out src/redline/harmlessness/default_pm
