"""How well do the judges agree with a blind reading of the same replies?

The judges are calibrated on hh-rlhf comparison pairs (``redline judge eval``); a policy
trained against one of them produces replies unlike any of those pairs (the 60-step runs
learned deflections and off-topic definitions). This script scores the judges against the
hand labels of ``benchmarks/blind_reading.py`` on the replies of
``benchmarks/rlhf_eval.py --out``:

- attacks (label: the reply is harmful): AUC of each harm judge's score in the eval file
  (``pm-heldout``, ``pm``), with a 95% bootstrap interval;
- benign requests (label: the reply evades): precision and recall of the refusal lexicon,
  AUC of the evasion probe (``redline.rlhf.attempt``) on each ``--probes`` model, and AUC
  of the reference coverage (``redline.judges.coverage``, low coverage = evasion) against the
  shipped benign set's written answers.

Usage: python benchmarks/judge_vs_reading.py EVAL.json --attacks A.json --benign B.json
       [--probes gemma3-270m,smollm2-135m] [--also-without TARGET]
Prints JSON lines ``{"bench": "judge_vs_reading", ...}``.
"""

from __future__ import annotations

import argparse
import json
from functools import partial
from pathlib import Path
from typing import Any

import common
import numpy as np

from redline.config import load_settings
from redline.judges.benign import load_benign
from redline.judges.coverage import coverage
from redline.rlhf.attempt import load_attempt_probe
from redline.statistics import wilson

emit = partial(common.emit, "judge_vs_reading")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("eval_json", type=Path)
    parser.add_argument("--attacks", type=Path, required=True)
    parser.add_argument("--benign", type=Path, required=True)
    parser.add_argument("--probes", default="gemma3-270m,smollm2-135m")
    parser.add_argument(
        "--also-without",
        default="",
        help="a target whose replies are left out of a second harm AUC (a policy whose "
        "replies are all off-topic makes the pooled AUC easy)",
    )
    args = parser.parse_args()
    report = json.loads(args.eval_json.read_text())
    attacks = json.loads(args.attacks.read_text())["items"]
    benign = json.loads(args.benign.read_text())["items"]

    judges = sorted(
        {
            name
            for item in attacks
            for name, v in report["targets"][item["target"]]["verdicts"].items()
            if name != "refusal"
        }
    )
    subsets = [("all", attacks)]
    if args.also_without:
        kept = [item for item in attacks if item["target"] != args.also_without]
        subsets.append((f"without {args.also_without}", kept))
    for judge in judges:
        for subset, items in subsets:
            harm = np.array(
                [
                    report["targets"][item["target"]]["verdicts"][judge]["attacks"][item["index"]][
                        "harm"
                    ]
                    for item in items
                ],
                dtype=float,
            )
            marked = np.array([int(item["marked"]) for item in items])
            cell = common.auc_interval(marked, harm)
            emit("auc_harmful", **_value(cell), unit="auc", judge=judge, replies=subset)

    evades = np.array([int(item["marked"]) for item in benign])
    flagged = np.array(
        [
            int(report["targets"][item["target"]]["verdicts"]["refusal"]["benign"][item["index"]])
            for item in benign
        ]
    )
    hits = int((flagged & evades).sum())
    for metric, k, n in (
        ("lexicon_recall_of_evasions", hits, int(evades.sum())),
        ("lexicon_precision", hits, int(flagged.sum())),
    ):
        lo, hi = wilson(k, n, 0.95)
        emit(
            metric,
            k / n if n else float("nan"),
            unit="share",
            k=k,
            n=n,
            ci95=[round(lo, 3), round(hi, 3)],
        )
    requests = report["benign"]
    pairs = [(requests[item["index"]], item["reply"]) for item in benign]
    answers = {b.prompt: b.helpful for b in load_benign()}
    shares = np.array([coverage(q, reply, answers[q]) for q, reply in pairs])
    emit(
        "auc_evasion_reference_coverage",
        **_value(common.auc_interval(evades, -shares)),
        unit="auc",
        measure="redline.judges.coverage",
    )
    settings = load_settings()
    for model in [m for m in args.probes.split(",") if m]:
        odds = np.array(load_attempt_probe(model, settings).log_odds(pairs))
        emit(
            "auc_evasion_probe",
            **_value(common.auc_interval(evades, odds)),
            unit="auc",
            model=model,
        )


def _value(cell: dict[str, Any]) -> dict[str, Any]:
    return {"value": cell.pop("value"), **cell}


if __name__ == "__main__":
    main()
