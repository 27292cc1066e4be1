#!/usr/bin/env bash
# Train the packaged default harmlessness PM (src/redline/harmlessness/default_pm.{npz,json}).
#
# Seeded and repeatable: SmolLM2-135M-Instruct reply-token mean features (bounded context:
# last 300 characters of the conversation, first 64 reply tokens), a one-hidden-layer MLP
# Bradley-Terry head, seed 0, 20% of the pairs held out for validation, the packaged
# counter-bias pairs (helpful answer to an everyday request beats a refusal) on the training
# side: of the heads and data measured by benchmarks/pm_study.py, the only one that prefers
# the helpful answer on at least 90% of the shipped benign set while keeping most of the
# linear head's accuracy (see src/redline/harmlessness/README.md). Validation metrics and
# calibration are stored in default_pm.json. Features are cached in .redline/cache, so a
# rerun only refits the head.
#
# The held-out judge (pm-heldout, heldout_pm.{npz,json}) is fitted on the other side of the
# same split, on Gemma 3 270M, without the counter pairs: it shares no data with this PM.
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
  --backbone smollm2-135m --head mlp --counter-pairs --name default \
  --out src/redline/harmlessness/default_pm
if [ "$LIMIT" = 0 ]; then
  redline pm train --pairs "$PAIRS" --seed 0 --val-fraction 0.2 --fit-on validation \
    --backbone gemma3-270m --head linear --no-counter-pairs --name heldout \
    --out src/redline/harmlessness/heldout_pm
fi
