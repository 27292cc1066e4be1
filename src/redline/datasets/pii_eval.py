"""How well :mod:`redline.datasets.pii` finds PII, measured on a labelled set.

The set (``data/pii_labelled.jsonl``, shipped with the package) holds sentences with one
PII string each (``pii``, its ``kind`` and a ``category`` such as "phone, French") and
near misses that must be left alone (dates, prices, model sizes like 52B, version
numbers, "5 Miles Down The Road"; ``kind`` null). Why computed, not written down: the
datasheet of every release prints this table as the detector of that release scores it.

* **Recall** (PII categories): the share of cases whose PII string is entirely inside
  one redacted span, whatever kind the detector called it (for a release what matters
  is that it is gone); ``right kind`` counts those also given the labelled kind.
* **False positives** (near-miss categories): the share of texts where anything at
  all was flagged.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources
from typing import Any

from redline.datasets.pii import find_pii

CASES_FILE = "pii_labelled.jsonl"


def load_cases() -> list[dict[str, Any]]:
    """The labelled set shipped with the package."""
    text = resources.files("redline.datasets").joinpath("data", CASES_FILE).read_text("utf-8")
    return [json.loads(line) for line in text.splitlines() if line.strip()]


@dataclass(frozen=True)
class CategoryScore:
    category: str
    kind: str | None  # None: a near-miss category
    cases: int
    hits: int  # recall: PII fully redacted; near misses: texts wrongly flagged
    right_kind: int = 0

    @property
    def rate(self) -> float:
        return self.hits / self.cases if self.cases else float("nan")


@dataclass(frozen=True)
class Evaluation:
    categories: list[CategoryScore]
    misses: list[dict[str, Any]]  # PII cases not fully redacted
    false_positives: list[dict[str, Any]]  # near misses flagged, with what was flagged

    def _sum(self, pii: bool) -> tuple[int, int]:
        rows = [c for c in self.categories if (c.kind is not None) == pii]
        return sum(c.hits for c in rows), sum(c.cases for c in rows)

    @property
    def recall(self) -> float:
        hits, cases = self._sum(True)
        return hits / cases if cases else float("nan")

    @property
    def false_positive_rate(self) -> float:
        hits, cases = self._sum(False)
        return hits / cases if cases else float("nan")

    def markdown(self) -> str:
        """The table for the datasheet."""
        lines = [
            "| category | kind | cases | redacted (recall) | right kind |",
            "|---|---|---:|---:|---:|",
        ]
        for c in self.categories:
            if c.kind is not None:
                lines.append(
                    f"| {c.category} | {c.kind} | {c.cases} | {c.hits} ({c.rate:.0%}) | "
                    f"{c.right_kind} |"
                )
        hits, cases = self._sum(True)
        lines.append(f"| **all PII** | | **{cases}** | **{hits} ({self.recall:.1%})** | |")
        lines += [
            "",
            "| near miss (must stay) | cases | flagged (false positives) |",
            "|---|---:|---:|",
        ]
        for c in self.categories:
            if c.kind is None:
                lines.append(f"| {c.category} | {c.cases} | {c.hits} ({c.rate:.0%}) |")
        hits, cases = self._sum(False)
        lines.append(
            f"| **all near misses** | **{cases}** | **{hits} ({self.false_positive_rate:.1%})** |"
        )
        return "\n".join(lines)


def evaluate(cases: list[dict[str, Any]] | None = None) -> Evaluation:
    """Run the detector on every case and score it per category (in file order)."""
    cases = load_cases() if cases is None else cases
    order: list[str] = []
    tally: dict[str, list[int]] = {}
    kinds: dict[str, str | None] = {}
    misses: list[dict[str, Any]] = []
    flagged: list[dict[str, Any]] = []
    for case in cases:
        category = case["category"]
        if category not in tally:
            order.append(category)
            tally[category] = [0, 0, 0]
            kinds[category] = case["kind"]
        counts = tally[category]
        counts[0] += 1
        matches = find_pii(case["text"])
        if case["kind"] is None:
            if matches:
                counts[1] += 1
                flagged.append({**case, "found": [(m.kind, m.text) for m in matches]})
            continue
        start = case["text"].index(case["pii"])
        end = start + len(case["pii"])
        covering = [m for m in matches if m.start <= start and m.end >= end]
        if covering:
            counts[1] += 1
            counts[2] += any(m.kind == case["kind"] for m in covering)
        else:
            misses.append({**case, "found": [(m.kind, m.text) for m in matches]})
    scores = [CategoryScore(c, kinds[c], tally[c][0], tally[c][1], tally[c][2]) for c in order]
    return Evaluation(scores, misses, flagged)
