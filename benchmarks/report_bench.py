"""Time the report's parts on 38,961 synthetic attempts and its peak memory.

The store is built in a child process (import has its own benchmark), so the peak RSS
printed here is that of loading the store and building the report.

    python benchmarks/report_bench.py [--n 38961]
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def emit(metric: str, value: float, unit: str) -> None:
    line = {"bench": "report", "metric": metric, "value": round(value, 3), "unit": unit}
    print(json.dumps(line), flush=True)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=38961)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = f"sqlite:///{tmp}/r.db"
        setup = (
            "from redline.datasets.synthetic import write_synthetic;"
            "from redline.datasets import import_file; from redline.store import Store;"
            f"write_synthetic('{tmp}/s.json', {args.n}, 0);"
            f"import_file(Store('{db}'), '{tmp}/s.json')"
        )
        subprocess.run([sys.executable, "-c", setup], check=True)
        from redline.analysis import attempts_frame
        from redline.analysis.report import build_report
        from redline.analysis.texts import transcripts_frame
        from redline.store import Store

        total = time.perf_counter()
        start = time.perf_counter()
        store = Store(db)
        with store.session() as session:
            frame, texts = attempts_frame(session), transcripts_frame(session)
        emit("load store", time.perf_counter() - start, "s")
        result = build_report(frame, texts, Path(tmp) / "out")
        for name, seconds in result.timings.items():
            emit(name, seconds, "s")
        emit("total", time.perf_counter() - total, "s")
        emit("attempts", len(frame), "count")
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        emit("peak rss", peak_kib / 1024 / 1024, "GiB")


if __name__ == "__main__":
    main()
