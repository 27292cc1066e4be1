"""What every benchmark script shares: one JSON line per measurement on stdout, and the
repository root on ``sys.path`` so a benchmark can use the data generators in
``tests/support`` (test support, not shipped in the package) however it is started."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))


def emit(bench: str, metric: str, value: float, unit: str, **extra: object) -> None:
    """Print ``{"bench", "metric", "value", "unit", ...}`` as one line, flushed at once."""
    record = {"bench": bench, "metric": metric, "value": round(value, 4), "unit": unit, **extra}
    print(json.dumps(record), flush=True)


def auc_interval(labels: Any, scores: Any, n_boot: int = 2000, seed: int = 0) -> dict[str, Any]:
    """AUC of ``scores`` for binary ``labels`` with a percentile bootstrap 95% interval over
    items (``redline.statistics.bootstrap_items``; resamples with one class are dropped)."""
    import numpy as np
    from sklearn.metrics import roc_auc_score

    from redline.statistics import bootstrap_items

    table = np.column_stack([np.asarray(labels, dtype=float), np.asarray(scores, dtype=float)])

    def auc(rows: Any) -> float | None:
        y = rows[:, 0]
        return float(roc_auc_score(y, rows[:, 1])) if 0 < y.sum() < len(y) else None

    lo, hi = bootstrap_items(table, auc, n_boot, seed)
    return {
        "value": round(float(roc_auc_score(table[:, 0], table[:, 1])), 3),
        "ci95": [None if lo is None else round(lo, 3), None if hi is None else round(hi, 3)],
        "n": len(table),
        "positives": int(table[:, 0].sum()),
    }
