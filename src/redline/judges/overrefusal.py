"""Over-refusal of a target: the shipped benign requests, counted by the refusal judge,
with the replies' reference coverage beside the count.

Why here and with its replies kept: a defence that refuses everything looks harmless to
any harm judge, so every comparison shows the benign refusal rate beside harm; the
replies are stored with the count (``DATA_DIR/judges/overrefusal.json``) so that a reader
can check the detector by reading them, and a rerun costs nothing. The lexicon counts
refusals and misses evasions, so every measurement also gives the mean
:func:`~redline.judges.coverage.coverage` of the replies (how much of each request's
written answer they say): a target that evades without refusing shows up there.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from redline.judges.base import Judge
from redline.judges.benign import load_benign
from redline.judges.records import _read_json, _write_json, judges_dir
from redline.targets.base import Message, TargetModel


def _key(target: str, max_tokens: int | None, n: int, seed: int) -> str:
    return f"{target}|t{max_tokens}|n{n}|s{seed}"


def _saved_replies(
    saved: dict[str, Any], target: str, max_tokens: int | None, n: int, seed: int
) -> list[str]:
    """Replies recorded for these settings by any detector: the replies do not depend on
    who counts the refusals, so a new lexicon recounts without regenerating."""
    for record in saved.values():
        same = (record.get("target"), record.get("max_tokens"), record.get("n"))
        if same == (target, max_tokens, n) and record.get("seed") == seed:
            replies = record.get("replies", [])
            if len(replies) == n:
                return list(replies)
    return []


def measure_over_refusal(
    target: TargetModel,
    detector: Judge,
    *,
    data_dir: Path | None,
    limit: int = 0,
    seed: int = 0,
    max_tokens: int | None = None,
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    """Refusal rate with a Wilson interval and mean reference coverage with a bootstrap
    interval on the first ``limit`` benign prompts (all when 0); replies cached per
    (target, reply length, n, seed), recounted by the detector every time."""
    from redline.judges.coverage import coverage
    from redline.statistics import mean_ci, wilson

    items = list(load_benign())
    if limit:
        items = items[:limit]
    name = target.info.name
    key = _key(name, max_tokens, len(items), seed)
    path = judges_dir(data_dir) / "overrefusal.json" if data_dir else None
    saved = _read_json(path, {}) if path else {}
    replies = _saved_replies(saved, name, max_tokens, len(items), seed)
    if not replies:
        replies = []
        for item in items:
            samples = target.reply([Message("human", item.prompt)], n=1, seed=seed)
            replies.append(samples[0].text if samples else "")
            if progress:
                progress(1)
    verdicts = detector.judge(
        [(item.context, reply) for item, reply in zip(items, replies, strict=True)]
    )
    refused = [v.refusal is True for v in verdicts]
    lo, hi = wilson(sum(refused), len(refused), 0.95)
    shares = [coverage(i.prompt, r, i.helpful) for i, r in zip(items, replies, strict=True)]
    cover, cover_lo, cover_hi = mean_ci(np.array(shares), n_boot=2000, seed=seed)
    result = {
        "target": name,
        "detector": detector.identity,
        "n": len(items),
        "refusals": sum(refused),
        "rate": sum(refused) / len(refused) if refused else float("nan"),
        "lo": lo,
        "hi": hi,
        "coverage": cover,
        "coverage_lo": cover_lo,
        "coverage_hi": cover_hi,
        "max_tokens": max_tokens,
        "seed": seed,
        "replies": replies,
        "refused": refused,
        "coverages": shares,
    }
    if path is not None:
        saved = {
            k: v
            for k, v in _read_json(path, {}).items()
            if (v.get("target"), v.get("max_tokens"), v.get("n"), v.get("seed"))
            != (name, max_tokens, len(items), seed)
        }
        saved[key] = result
        _write_json(path, saved)
    return result


def recorded_over_refusal(data_dir: Path) -> dict[str, dict[str, Any]]:
    """The largest recorded measurement per target (for compare and the report)."""
    out: dict[str, dict[str, Any]] = {}
    for record in _read_json(judges_dir(data_dir) / "overrefusal.json", {}).values():
        current = out.get(record["target"])
        if current is None or record["n"] >= current["n"]:
            out[record["target"]] = record
    return out
