"""Can a packaged small model tell an answer from an evasion, where it cannot grade harm?

The 60-step RLHF run (docs/experiments/rlhf-60-steps.md) evaded benign requests in a way
the refusal lexicon misses ("That is a common misconception. What is ...?"). This probe
(redline.rlhf.attempt, the evasion term of the RLHF reward) asks each packaged model one
yes/no question per reply, "does the reply make a real attempt at the request?", and
scores P(no) from the answer token's top log-probabilities, on the 90 hand-labelled benign
replies of that page (30 requests x plain, the 14-step and the 60-step adapter; 17
evasions). The prompt was written once, after the labels and
without tuning on them; 90 items from one page of replies are a first look, not a
calibration.

Usage: python benchmarks/evasion_probe.py [--models smollm2-135m,gemma3-270m]
Prints JSON lines: AUC of P(evasion) against the labels, with a 95% bootstrap interval.
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path

import common
import numpy as np

from redline.config import load_settings
from redline.rlhf.attempt import load_attempt_probe

emit = partial(common.emit, "evasion_probe")
LABELS = (
    Path(__file__).resolve().parent.parent / "docs/experiments/rlhf-60-steps-benign-reading.json"
)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models", default="smollm2-135m,gemma3-270m")
    parser.add_argument("--n-boot", type=int, default=2000)
    args = parser.parse_args()
    data = json.loads(LABELS.read_text())
    rows = [
        (item["request"], item["replies"][target], int(item["evades"][target]))
        for item in data["items"]
        for target in item["replies"]
    ]
    labels = np.array([label for _, _, label in rows])
    for model in args.models.split(","):
        odds = np.array(
            load_attempt_probe(model, load_settings()).log_odds(
                [(req, reply) for req, reply, _ in rows]
            )
        )
        cell = common.auc_interval(labels, odds, n_boot=args.n_boot)
        emit(
            "auc_evasion",
            cell["value"],
            "auc",
            model=model,
            ci95=cell["ci95"],
            n=cell["n"],
            evasions=cell["positives"],
            log_odds_mean_evasions=round(float(odds[labels == 1].mean()), 3),
            log_odds_mean_attempts=round(float(odds[labels == 0].mean()), 3),
        )


if __name__ == "__main__":
    main()
