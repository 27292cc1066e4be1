"""Load benchmark: concurrent simulated red teamers against a real `redline serve` process.

Each simulated person joins through an invite, agrees to the instructions, starts a task
and an attempt, then does N turns as a browser would: send a message (POST, redirect,
GET the chat page with the two candidates), pick the more harmful one (POST, redirect,
GET). The target is the scripted, instant one, so the numbers are the platform's own.

Server time comes from the ``Server-Timing`` header the app adds to every response
(``app`` = time in the app excluding model calls, ``model`` = model time). Client time is
the wall time a person waits, including queueing in the server and the client loop.

Usage:
    python benchmarks/platform_load.py --users 50 --turns 10 --db sqlite
    python benchmarks/platform_load.py --db postgresql --pg-url postgresql+psycopg://...

Prints one JSON line per measurement:
{"bench": "platform_load", "metric": ..., "value": ..., "unit": ..., "db": ..., ...}
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from sqlalchemy import create_engine, text

CSRF_RE = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')
KEY_RE = re.compile(r'name="key" value="([0-9a-f]+)"')
TASK_RE = re.compile(r'name="task_id" value="(\d+)"')
TIMING_RE = re.compile(r"app;dur=([\d.]+), model;dur=([\d.]+)")


@dataclass
class Results:
    turn_post_app_ms: list[float] = field(default_factory=list)
    turn_cycle_app_ms: list[float] = field(default_factory=list)
    turn_post_model_ms: list[float] = field(default_factory=list)
    turn_post_client_ms: list[float] = field(default_factory=list)
    turn_cycle_client_ms: list[float] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def app_ms(response: httpx.Response) -> tuple[float, float]:
    found = TIMING_RE.search(response.headers.get("server-timing", ""))
    if not found:
        raise RuntimeError(f"no Server-Timing header on {response.request.url}")
    return float(found.group(1)), float(found.group(2))


class Person:
    """One simulated red teamer with its own cookie jar."""

    def __init__(self, base: str, think: float, rng: random.Random) -> None:
        self.http = httpx.AsyncClient(base_url=base, timeout=60, follow_redirects=False)
        self.csrf = ""
        self.think = think
        self.rng = rng

    async def pause(self) -> None:
        """A person reads and types between actions (uniform 0.5-1.5 x the mean)."""
        if self.think > 0:
            await asyncio.sleep(self.think * self.rng.uniform(0.5, 1.5))

    async def get(self, url: str) -> httpx.Response:
        response = await self.http.get(url)
        while response.status_code in {302, 303, 307}:
            response = await self.http.get(response.headers["location"].split("#")[0])
        if response.status_code >= 400:
            raise RuntimeError(f"GET {url}: {response.status_code}")
        if found := CSRF_RE.search(response.text):
            self.csrf = found.group(1)
        return response

    async def post(self, url: str, data: dict[str, object] | None = None) -> httpx.Response:
        response = await self.http.post(url, data={"csrf_token": self.csrf, **(data or {})})
        if response.status_code != 303:
            raise RuntimeError(f"POST {url}: {response.status_code} {response.text[:200]}")
        return response

    async def follow(self, response: httpx.Response) -> httpx.Response:
        return await self.get(response.headers["location"].split("#")[0])

    async def setup(self, invite: str) -> str:
        await self.get(f"/invite/{invite}")
        await self.follow(await self.post(f"/invite/{invite}"))
        await self.post("/redteam/consent", {"agree": "yes"})
        await self.post("/redteam/survey", {"skip": "1"})
        await self.post("/redteam/task")
        page = await self.get("/redteam/attempt/new")
        task = TASK_RE.search(page.text).group(1)  # type: ignore[union-attr]
        key = KEY_RE.search(page.text).group(1)  # type: ignore[union-attr]
        form = {"task_id": task, "task_description": "load test", "key": key}
        response = await self.post("/redteam/attempt", form)
        return str(response.headers["location"])

    async def turns(self, attempt: str, n: int, results: Results) -> None:
        page = await self.get(attempt)
        for i in range(n):
            key = KEY_RE.search(page.text).group(1)  # type: ignore[union-attr]
            await self.pause()
            started = time.perf_counter()
            sent = await self.post(f"{attempt}/turn", {"text": f"message {i}", "key": key})
            post_wall = time.perf_counter() - started
            shown = await self.follow(sent)
            if "Reply 2 is more harmful" not in shown.text:
                raise RuntimeError("the candidates were not shown")
            shown_wall = time.perf_counter() - started
            await self.pause()
            pick_started = time.perf_counter()
            picked = await self.post(f"{attempt}/pick", {"turn": i, "candidate": i % 2})
            page = await self.follow(picked)
            cycle_wall = shown_wall + time.perf_counter() - pick_started
            post_app, post_model = app_ms(sent)
            results.turn_post_app_ms.append(post_app)
            results.turn_post_model_ms.append(post_model)
            results.turn_cycle_app_ms.append(sum(app_ms(r)[0] for r in (sent, shown, picked, page)))
            results.turn_post_client_ms.append(post_wall * 1000)
            results.turn_cycle_client_ms.append(cycle_wall * 1000)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fresh_pg_database(admin_url: str) -> tuple[str, str]:
    name = f"redline_bench_{uuid.uuid4().hex[:8]}"
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    engine.dispose()
    return f"{admin_url.rpartition('/')[0]}/{name}", name


def drop_pg_database(admin_url: str, name: str) -> None:
    engine = create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    engine.dispose()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


async def run_people(
    base: str, invites: list[str], turns: int, think: float
) -> tuple[Results, float]:
    results = Results()
    rng = random.Random(1)
    people = [Person(base, think, rng) for _ in invites]

    async def one(person: Person, invite: str) -> None:
        try:
            await asyncio.sleep(rng.uniform(0, person.think))  # people do not arrive at once
            attempt = await person.setup(invite)
            await person.turns(attempt, turns, results)
        except Exception as exc:  # every failure is counted and reported, never hidden
            results.errors.append(f"{type(exc).__name__}: {exc}")

    started = time.perf_counter()
    await asyncio.gather(*(one(p, i) for p, i in zip(people, invites, strict=True)))
    elapsed = time.perf_counter() - started
    for person in people:
        await person.http.aclose()
    return results, elapsed


def bench(db: str, db_url: str, users: int, turns: int, think: float) -> None:
    from redline.platform import accounts
    from redline.store import Store
    from redline.store.models import Role

    with tempfile.TemporaryDirectory(prefix="redline-load-") as tmp:
        store = Store(db_url)
        invites = [accounts.create_invite(store, Role.REDTEAMER, "bench") for _ in range(users)]
        store.dispose()
        port = free_port()
        cmd = [
            sys.executable, "-c", "from redline.cli import main; main()",
            "--data-dir", tmp, "--db-url", db_url,
            "serve", "--scripted", "--port", str(port), "--log-level", "error",
        ]  # fmt: skip
        server = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        base = f"http://127.0.0.1:{port}"
        try:
            deadline = time.monotonic() + 60
            while True:
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                if time.monotonic() > deadline or server.poll() is not None:
                    raise SystemExit(f"server did not start: {server.stderr.read()!r}")  # type: ignore[union-attr]
                time.sleep(0.2)
            results, elapsed = asyncio.run(run_people(base, invites, turns, think))
        finally:
            server.terminate()
            server.wait(timeout=20)

    common = {"db": db, "users": users, "turns_per_user": turns, "think_s": think}

    def emit(metric: str, value: float, unit: str) -> None:
        line = {"bench": "platform_load", "metric": metric, "value": round(value, 3), "unit": unit}
        print(json.dumps({**line, **common}), flush=True)

    for name in ("turn_post_app_ms", "turn_cycle_app_ms", "turn_post_client_ms",
                 "turn_cycle_client_ms"):  # fmt: skip
        values: list[float] = getattr(results, name)
        base_name = name.removesuffix("_ms")
        emit(f"{base_name}_p50", percentile(values, 50), "ms")
        emit(f"{base_name}_p99", percentile(values, 99), "ms")
    emit("model_ms_mean", statistics.fmean(results.turn_post_model_ms or [0.0]), "ms")
    emit("turns_completed", len(results.turn_post_app_ms), "turns")
    emit("throughput", len(results.turn_post_app_ms) / elapsed, "turns/s")
    emit("errors", len(results.errors), "count")
    for error in results.errors[:5]:
        print(f"# error: {error}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--turns", type=int, default=10)
    parser.add_argument(
        "--think",
        type=float,
        default=3.0,
        help="Mean seconds a person reads/types between actions (0: a saturating stress test).",
    )
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default="both")
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("REDLINE_BENCH_PG_URL") or os.environ.get("REDLINE_TEST_PG_URL"),
        help="An admin URL of a PostgreSQL server (a fresh database is created and dropped).",
    )
    args = parser.parse_args()
    if args.db in {"sqlite", "both"}:
        with tempfile.TemporaryDirectory(prefix="redline-load-db-") as tmp:
            bench(
                "sqlite",
                f"sqlite:///{Path(tmp) / 'redline.db'}",
                args.users,
                args.turns,
                args.think,
            )
    if args.db in {"postgresql", "both"}:
        if not args.pg_url:
            print("# postgresql skipped: pass --pg-url or set REDLINE_TEST_PG_URL", file=sys.stderr)
            return
        url, name = fresh_pg_database(args.pg_url)
        try:
            bench("postgresql", url, args.users, args.turns, args.think)
        finally:
            drop_pg_database(args.pg_url, name)


if __name__ == "__main__":
    main()
