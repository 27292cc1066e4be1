"""What every benchmark script shares: one JSON line per measurement on stdout, and the
repository root on ``sys.path`` so a benchmark can use the data generators in
``tests/support`` (test support, not shipped in the package) however it is started."""

from __future__ import annotations

import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))


def emit(bench: str, metric: str, value: float, unit: str, **extra: object) -> None:
    """Print ``{"bench", "metric", "value", "unit", ...}`` as one line, flushed at once."""
    record = {"bench": bench, "metric": metric, "value": round(value, 4), "unit": unit, **extra}
    print(json.dumps(record), flush=True)
