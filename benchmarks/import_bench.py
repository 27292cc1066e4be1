"""Import benchmark: 38,961 synthetic red-team attempts shaped like the published file.

Generates the file (one gzipped JSON array, like the release), then times
``redline import`` in a fresh process (so peak memory is the import's own) into a fresh
SQLite database, or into the database named by --db-url. Prints JSON lines.

Target (issue 2): under 20 s and under 1 GiB on a 2-core machine.

Usage: python benchmarks/import_bench.py [--n 38961] [--db-url URL] [--repeats 3]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from functools import partial
from pathlib import Path

import common
from tests.support.synthetic import write_synthetic

emit = partial(common.emit, "import")


def run_import(path: Path, db_url: str) -> tuple[float, float]:
    """(wall seconds, peak RSS MiB) of one `redline import` in a child process."""
    code = (
        "import sys; from redline.cli import main; "
        "sys.argv=['redline','--db-url',sys.argv[1],'import',sys.argv[2]]; main()"
    )
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    start = time.perf_counter()
    subprocess.run(
        [sys.executable, "-c", code, db_url, str(path)], check=True, stdout=subprocess.DEVNULL
    )
    wall = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return wall, max(peak, before) / 1024


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=38961)
    parser.add_argument("--db-url", default=None, help="default: a fresh SQLite file per run")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp) / "red_team_attempts.jsonl.gz"
        start = time.perf_counter()
        write_synthetic(data, args.n, seed=0)
        emit("generate_s", time.perf_counter() - start, "s", n=args.n)
        walls, peaks = [], []
        for i in range(args.repeats):
            url = args.db_url or f"sqlite:///{Path(tmp) / f'run{i}.db'}"
            if args.db_url and i > 0:
                break  # a shared server database keeps the first run's rows
            wall, peak = run_import(data, url)
            walls.append(wall)
            peaks.append(peak)
        backend = (args.db_url or "sqlite").split(":")[0]
        emit("wall_s", statistics.median(walls), "s", n=args.n, db=backend, runs=len(walls))
        emit("peak_rss", max(peaks), "MiB", n=args.n, db=backend)
        emit("attempts_per_s", args.n / statistics.median(walls), "1/s", n=args.n, db=backend)


if __name__ == "__main__":
    main()
