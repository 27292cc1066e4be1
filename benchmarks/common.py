"""What every benchmark script shares: one JSON line per measurement on stdout."""

from __future__ import annotations

import json


def emit(bench: str, metric: str, value: float, unit: str, **extra: object) -> None:
    """Print ``{"bench", "metric", "value", "unit", ...}`` as one line, flushed at once."""
    record = {"bench": bench, "metric": metric, "value": round(value, 4), "unit": unit, **extra}
    print(json.dumps(record), flush=True)
