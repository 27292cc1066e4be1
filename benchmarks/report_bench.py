"""Time the report's parts on 38,961 synthetic attempts: wall and CPU seconds per step,
and peak memory of the report process and of its attack-map worker.

Why CPU time too: the benchmark machine is often shared, and wall time then measures the
neighbours. CPU seconds per step say what the step costs; the load average at start and
end is printed so a reader can judge the wall times.

The store is built in a child process (import has its own benchmark), or reused with
``--db`` (built once with ``--keep``), so the numbers are those of loading the store and
building the report.

    python benchmarks/report_bench.py [--n 38961] [--db sqlite:///r.db] [--keep DIR]
"""

from __future__ import annotations

import argparse
import os
import resource
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import common

emit = partial(common.emit, "report")


def build_store(folder: str, n: int) -> str:
    db = f"sqlite:///{folder}/r.db"
    setup = (
        "from tests.support.synthetic import write_synthetic;"
        "from redline.datasets import import_file; from redline.store import Store;"
        f"write_synthetic('{folder}/s.json', {n}, 0);"
        f"import_file(Store('{db}'), '{folder}/s.json')"
    )
    subprocess.run([sys.executable, "-c", setup], check=True, cwd=common.ROOT)
    return db


def run(db: str, out: Path) -> None:
    from redline.analysis.report import build_report
    from redline.analysis.texts import transcripts_frame
    from redline.attack.frame import comparison_frame
    from redline.store import Store

    emit("load average at start", os.getloadavg()[0], "1-min")
    wall, cpu = time.perf_counter(), time.process_time()
    store = Store(db)
    with store.session() as session:
        frame, texts = comparison_frame(session), transcripts_frame(session)
    emit("load store", time.perf_counter() - wall, "s")
    emit("load store cpu", time.process_time() - cpu, "s")
    result = build_report(frame, texts, out)
    for name, seconds in result.timings.items():
        emit(name, seconds, "s")
    for name, seconds in result.cpu.items():
        emit(f"{name} cpu", seconds, "s")
    emit("total", time.perf_counter() - wall, "s")
    emit("total cpu (report process)", time.process_time() - cpu, "s")
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    emit("total cpu (attack-map worker)", children.ru_utime + children.ru_stime, "s")
    emit("attempts", len(frame), "count")
    emit(
        "peak rss (report process)",
        resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20,
        "GiB",
    )
    emit("peak rss (attack-map worker)", children.ru_maxrss / 2**20, "GiB")
    emit("load average at end", os.getloadavg()[0], "1-min")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=38961)
    parser.add_argument("--db", help="reuse this store instead of building one")
    parser.add_argument("--keep", help="build the store in this folder and keep it")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        if args.db:
            db = args.db
        else:
            folder = args.keep or tmp
            Path(folder).mkdir(parents=True, exist_ok=True)
            db = build_store(folder, args.n)
        run(db, Path(tmp) / "out")


if __name__ == "__main__":
    main()
