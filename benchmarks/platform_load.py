"""Load benchmark: concurrent simulated people against a real `redline serve` process.

Each simulated red teamer joins through an invite, agrees to the instructions, starts a
task and an attempt, then does N turns as a browser would: send a message (POST, redirect,
GET the chat page with the two candidates), pick the more harmful one (POST, redirect,
GET). Admins poll the live dashboard (its JSON every 5 s, as the page does, and a full
page load now and then); reviewers load their review queue. All of them think between
actions like a person (uniform 0.5-1.5 x ``--think``).

Two modes:
- scripted (default): the instant scripted target, so the numbers are the platform's own
  (server time from the ``Server-Timing`` header: ``app`` excludes model time);
- ``--real``: the default pool of real embedded models (plain, hhh, rs16, rlhf), reporting
  per target the turn latency a person sees (send -> candidates shown) at p50/p95/p99,
  the model queue wait, tokens/s (all sampled replies, rs16's 16 included), turns/s and
  errors. ``--no-batching`` runs the same with cross-request batching off.

The server's stderr goes to ``--server-log`` (named on stderr at the start); every error
is reported with its cause (HTTP status and the page's message, or the exception and the
request it broke).

Usage:
    python benchmarks/platform_load.py --users 50 --turns 10 --db sqlite
    python benchmarks/platform_load.py --db postgresql --pg-url postgresql+psycopg://...
    python benchmarks/platform_load.py --real --users 10 --turns 3          # batching on
    python benchmarks/platform_load.py --real --users 10 --turns 3 --no-batching

Prints one JSON line per measurement:
{"bench": "platform_load", "metric": ..., "value": ..., "unit": ..., "db": ..., ...}
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
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

import common as bench_common
import httpx
from sqlalchemy import create_engine, text

CSRF_RE = re.compile(r'<meta name="csrf-token" content="([0-9a-f]+)">')
KEY_RE = re.compile(r'name="key" value="([0-9a-f]+)"')
TASK_RE = re.compile(r'name="task_id" value="(\d+)"')
TIMING_RE = re.compile(r"app;dur=([\d.]+), model;dur=([\d.]+)")
ATTEMPT_RE = re.compile(r"/redteam/attempt/(\d+)")
ALERT_RE = re.compile(r'<div class="error" role="alert">\s*<p>(.*?)</p>', re.S)
MESSAGE_RE = re.compile(r'<p class="message">(.*?)</p>', re.S)


def page_reason(response: httpx.Response) -> str:
    """The message a person would read on an error page or in the chat's alert box."""
    found = ALERT_RE.search(response.text) or MESSAGE_RE.search(response.text)
    text = re.sub(r"<[^>]+>", "", found.group(1)) if found else response.text[:200]
    return " ".join(text.split())


@dataclass
class Results:
    turn_post_app_ms: list[float] = field(default_factory=list)
    turn_cycle_app_ms: list[float] = field(default_factory=list)
    turn_post_model_ms: list[float] = field(default_factory=list)
    turn_post_client_ms: list[float] = field(default_factory=list)
    turn_cycle_client_ms: list[float] = field(default_factory=list)
    #: (attempt id, turn index, ms from sending to the candidates shown) per turn
    shown: list[tuple[int, int, float]] = field(default_factory=list)
    poll_app_ms: list[float] = field(default_factory=list)  # admin dashboard JSON polls
    page_app_ms: list[float] = field(default_factory=list)  # full page loads (admin, review)
    errors: list[str] = field(default_factory=list)
    first_send: float = 0.0
    last_shown: float = 0.0


def app_ms(response: httpx.Response) -> tuple[float, float]:
    found = TIMING_RE.search(response.headers.get("server-timing", ""))
    if not found:
        raise RuntimeError(f"no Server-Timing header on {response.request.url}")
    return float(found.group(1)), float(found.group(2))


class Person:
    """One simulated person (red teamer, admin or reviewer) with its own cookie jar."""

    def __init__(self, base: str, think: float, rng: random.Random, timeout: float = 60) -> None:
        self.http = httpx.AsyncClient(base_url=base, timeout=timeout, follow_redirects=False)
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
            raise RuntimeError(f"GET {url}: {response.status_code} {page_reason(response)}")
        if found := CSRF_RE.search(response.text):
            self.csrf = found.group(1)
        return response

    async def post(self, url: str, data: dict[str, object] | None = None) -> httpx.Response:
        response = await self.http.post(url, data={"csrf_token": self.csrf, **(data or {})})
        if response.status_code != 303:
            raise RuntimeError(f"POST {url}: {response.status_code} {page_reason(response)}")
        return response

    async def follow(self, response: httpx.Response) -> httpx.Response:
        return await self.get(response.headers["location"].split("#")[0])

    async def join(self, invite: str) -> None:
        await self.get(f"/invite/{invite}")
        await self.follow(await self.post(f"/invite/{invite}"))

    async def setup(self, invite: str) -> str:
        await self.join(invite)
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
            results.first_send = results.first_send or started
            sent = await self.post(f"{attempt}/turn", {"text": f"message {i}", "key": key})
            post_wall = time.perf_counter() - started
            shown = await self.follow(sent)
            if "Reply 2 is more harmful" not in shown.text:
                raise RuntimeError("the candidates were not shown")
            shown_wall = time.perf_counter() - started
            results.last_shown = max(results.last_shown, time.perf_counter())
            attempt_id = int(ATTEMPT_RE.search(attempt).group(1))  # type: ignore[union-attr]
            results.shown.append((attempt_id, i, shown_wall * 1000))
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


def describe(exc: BaseException) -> str:
    """An error with its cause: httpx errors name the request they broke."""
    text = f"{type(exc).__name__}: {exc}"
    request = getattr(exc, "_request", None)
    if request is not None:
        text += f" ({request.method} {request.url.path})"
    if isinstance(exc, httpx.TransportError):
        text += "; the connection closed without a response: see the server log"
    return text


async def poll_admin(person: Person, invite: str, stop: asyncio.Event, results: Results) -> None:
    """An admin with the dashboard open: its JSON every 5 s, a full reload every 30 s."""
    await person.join(invite)
    last_page = 0.0
    while not stop.is_set():
        if time.perf_counter() - last_page > 30:
            page = await person.get("/admin")
            results.page_app_ms.append(app_ms(page)[0])
            last_page = time.perf_counter()
        response = await person.http.get("/admin/dashboard.json")
        if response.status_code != 200:
            raise RuntimeError(f"GET /admin/dashboard.json: {response.status_code}")
        results.poll_app_ms.append(app_ms(response)[0])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=5)


async def poll_reviews(person: Person, invite: str, stop: asyncio.Event, results: Results) -> None:
    """A reviewer looking at the review queue between reviews (page loads)."""
    await person.join(invite)
    while not stop.is_set():
        page = await person.get("/review")
        results.page_app_ms.append(app_ms(page)[0])
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), timeout=person.think * person.rng.uniform(0.5, 1.5))


async def run_people(
    base: str,
    invites: list[str],
    turns: int,
    think: float,
    *,
    admins: list[str] = (),  # type: ignore[assignment]
    reviewers: list[str] = (),  # type: ignore[assignment]
    timeout: float = 60,
) -> tuple[Results, float]:
    results = Results()
    rng = random.Random(1)
    people = [Person(base, think, rng, timeout) for _ in invites]
    watchers = [Person(base, think, rng, timeout) for _ in [*admins, *reviewers]]
    stop = asyncio.Event()

    async def one(person: Person, invite: str) -> None:
        try:
            await asyncio.sleep(rng.uniform(0, person.think))  # people do not arrive at once
            attempt = await person.setup(invite)
            await person.turns(attempt, turns, results)
        except Exception as exc:  # every failure is counted and reported, never hidden
            results.errors.append(describe(exc))

    async def watch(person: Person, invite: str, admin: bool) -> None:
        try:
            if admin:
                await poll_admin(person, invite, stop, results)
            else:
                await poll_reviews(person, invite, stop, results)
        except Exception as exc:
            results.errors.append(describe(exc))

    started = time.perf_counter()
    watching = [
        asyncio.create_task(watch(p, i, n < len(admins)))
        for n, (p, i) in enumerate(zip(watchers, [*admins, *reviewers], strict=True))
    ]
    await asyncio.gather(*(one(p, i) for p, i in zip(people, invites, strict=True)))
    elapsed = time.perf_counter() - started
    stop.set()
    await asyncio.gather(*watching)
    for person in [*people, *watchers]:
        await person.http.aclose()
    return results, elapsed


def split_cores(pin: bool) -> tuple[set[int], set[int]] | None:
    """(the server's core, the simulated people's cores) when pinning, else None.

    Why pin: real red teamers' browsers run on their own machines, but here the load
    generator (one Python process, about half a core) shares the 2 cores with the server,
    and its bursts showed up as server time: page p99 44-54 ms unpinned (5 runs) against
    19-38 ms pinned (3 runs), same code, same quiet machine (2026-12-02).
    """
    usable = sorted(os.sched_getaffinity(0))
    if not pin or len(usable) < 2:
        return None
    return {usable[0]}, set(usable[1:])


def start_server(
    db_url: str,
    data_dir: str,
    args: argparse.Namespace,
    log: Path,
    cores: set[int] | None = None,
) -> tuple[subprocess.Popen[bytes], str]:
    """`redline serve` on a free port (on ``cores`` only, when given), its stderr in
    ``log``; waits until it answers."""
    port = free_port()
    mode = ["--batching" if args.batching else "--no-batching"]
    if not args.real:
        mode.append("--scripted")
    cmd = [
        sys.executable, "-c", "from redline.cli import main; main()",
        "--data-dir", data_dir, "--db-url", db_url,
        "serve", *mode, "--port", str(port), "--log-level", "warning",
    ]  # fmt: skip
    with log.open("ab") as err:
        server = subprocess.Popen(
            cmd,
            stdout=subprocess.DEVNULL,
            stderr=err,
            preexec_fn=(lambda: os.sched_setaffinity(0, cores)) if cores else None,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                return server, base
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline or server.poll() is not None:
            server.kill()
            raise SystemExit(f"server did not start; its stderr is in {log}:\n{log.read_text()}")
        time.sleep(0.2)


Stats = dict[str, dict[str, list[float]]]


def per_target(db_url: str, shown: list[tuple[int, int, float]]) -> Stats:
    """Latency, queue wait and sampled tokens of each turn, grouped by the attempt's target
    (read from the store after the run: the pages never show the target)."""
    from sqlalchemy import select

    from redline.store import Store
    from redline.store.models import Attempt, Candidate, Target, Turn

    store = Store(db_url)
    with store.session() as session:
        rows = session.execute(
            select(Attempt.id, Turn.index, Target.name, Candidate.meta)
            .join(Target, Attempt.target_id == Target.id)
            .join(Turn, Turn.attempt_id == Attempt.id)
            .join(Candidate, Candidate.turn_id == Turn.id)
            .where(Candidate.index == 0)
        ).all()
    store.dispose()
    found = {(a, i): (name, meta or {}) for a, i, name, meta in rows}
    out: Stats = {}
    for attempt, index, ms in shown:
        name, meta = found.get((attempt, index), ("?", {}))
        entry = out.setdefault(name, {"shown_ms": [], "queue_ms": [], "tokens": []})
        entry["shown_ms"].append(ms)
        entry["queue_ms"].append(float(meta.get("queue_s", 0.0)) * 1000)
        entry["tokens"].append(
            float(meta.get("request_completion_tokens", meta.get("completion_tokens", 0)))
        )
    return out


def bench(db: str, db_url: str, args: argparse.Namespace) -> None:
    from redline import accounts
    from redline.store import Store
    from redline.store.models import Role

    users, turns, think = args.users, args.turns, args.think
    log = Path(args.server_log or tempfile.mktemp(prefix="redline-serve-", suffix=".log"))
    print(f"# server stderr: {log}", file=sys.stderr, flush=True)
    with tempfile.TemporaryDirectory(prefix="redline-load-") as tmp:
        store = Store(db_url)
        invites = [accounts.create_invite(store, Role.REDTEAMER, "bench") for _ in range(users)]
        warmers = [
            accounts.create_invite(store, Role.REDTEAMER, "warmup") for _ in range(args.warmup)
        ]
        admins = [accounts.create_invite(store, Role.ADMIN, "staff") for _ in range(args.admins)]
        reviewers = [
            accounts.create_invite(store, Role.REVIEWER, "bench") for _ in range(args.reviewers)
        ]
        store.dispose()
        data_dir = args.data_dir or tmp
        cores = split_cores(args.pin)
        everywhere = os.sched_getaffinity(0)
        server, base = start_server(db_url, data_dir, args, log, cores[0] if cores else None)
        if cores:
            os.sched_setaffinity(0, cores[1])
        try:
            if warmers:  # models load on first use: not what a person waits for later
                warm, _ = asyncio.run(run_people(base, warmers, 1, 0.5, timeout=900))
                for error in warm.errors:
                    print(f"# warm-up error: {error}", file=sys.stderr)
            results, elapsed = asyncio.run(
                run_people(
                    base,
                    invites,
                    turns,
                    think,
                    admins=admins,
                    reviewers=reviewers,
                    timeout=900 if args.real else 60,
                )
            )
            stats = per_target(db_url, results.shown) if args.real else {}
        finally:
            os.sched_setaffinity(0, everywhere)
            server.terminate()
            server.wait(timeout=30)

    common = {
        "db": db,
        "mode": "real" if args.real else "scripted",
        "batching": args.batching,
        "users": users,
        "turns_per_user": turns,
        "think_s": think,
        "admins": args.admins,
        "reviewers": args.reviewers,
        "warmup_turns": args.warmup,
        "pinned": args.pin,
    }

    def emit(metric: str, value: float, unit: str, **extra: object) -> None:
        bench_common.emit("platform_load", metric, value, unit, **common, **extra)

    if args.real:
        span = max(1e-9, results.last_shown - results.first_send)
        for name, entry in sorted(stats.items()):
            for q in (50, 95, 99):
                emit(f"turn_shown_p{q}", percentile(entry["shown_ms"], q), "ms", target=name)
            emit("queue_wait_mean", statistics.fmean(entry["queue_ms"]), "ms", target=name)
            emit("queue_wait_p95", percentile(entry["queue_ms"], 95), "ms", target=name)
            emit("turns", len(entry["shown_ms"]), "turns", target=name)
        every = [ms for entry in stats.values() for ms in entry["shown_ms"]]
        for q in (50, 95, 99):
            emit(f"turn_shown_p{q}", percentile(every, q), "ms", target="all")
        tokens = sum(t for entry in stats.values() for t in entry["tokens"])
        emit("tokens_per_s", tokens / span, "tok/s")
        emit("turns_per_s", len(every) / span, "turns/s")
        emit("busy_span", span, "s")
    else:
        for name in ("turn_post_app_ms", "turn_cycle_app_ms", "turn_post_client_ms",
                     "turn_cycle_client_ms", "poll_app_ms", "page_app_ms"):  # fmt: skip
            values: list[float] = getattr(results, name)
            base_name = name.removesuffix("_ms")
            emit(f"{base_name}_p50", percentile(values, 50), "ms", n=len(values))
            emit(f"{base_name}_p99", percentile(values, 99), "ms", n=len(values))
            emit(f"{base_name}_max", max(values, default=float("nan")), "ms", n=len(values))
        emit("model_ms_mean", statistics.fmean(results.turn_post_model_ms or [0.0]), "ms")
        emit("throughput", len(results.turn_post_app_ms) / elapsed, "turns/s")
    emit("turns_completed", len(results.shown), "turns")
    emit("errors", len(results.errors), "count")
    for error in results.errors:
        print(f"# error: {error}", file=sys.stderr)
    if results.errors:
        print(f"# server stderr (for the causes on its side): {log}", file=sys.stderr)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--real", action="store_true", help="The default pool of real models.")
    parser.add_argument(
        "--batching", action=argparse.BooleanOptionalAction, default=True,
        help="Cross-request batching in the server (--no-batching: one turn at a time).",
    )  # fmt: skip
    parser.add_argument("--users", type=int, default=None, help="Red teamers (50; real: 10).")
    parser.add_argument("--turns", type=int, default=None, help="Turns each (10; real: 3).")
    parser.add_argument(
        "--think",
        type=float,
        default=None,
        help="Mean seconds a person reads/types between actions (3; real: 10; 0: a "
        "saturating stress test).",
    )
    parser.add_argument("--admins", type=int, default=None, help="Dashboards open (2; real: 0).")
    parser.add_argument("--reviewers", type=int, default=None, help="Reviewers (5; real: 0).")
    parser.add_argument("--server-log", default=None, help="File for the server's stderr.")
    parser.add_argument(
        "--warmup", type=int, default=None,
        help="Unmeasured one-turn red teamers first, so models are loaded (0; real: 10).",
    )  # fmt: skip
    parser.add_argument(
        "--data-dir", default=None,
        help="The server's data directory; reuse one so model artefacts (Gemma) are built "
        "once (default: a fresh temporary one).",
    )  # fmt: skip
    parser.add_argument("--db", choices=["sqlite", "postgresql", "both"], default=None)
    parser.add_argument(
        "--pin", action=argparse.BooleanOptionalAction, default=None,
        help="Server on one core, simulated people on the others, so the load generator's "
        "bursts are not counted as server time (default: on when scripted, off with --real, "
        "where the models need every core).",
    )  # fmt: skip
    parser.add_argument(
        "--pg-url",
        default=os.environ.get("REDLINE_BENCH_PG_URL") or os.environ.get("REDLINE_TEST_PG_URL"),
        help="An admin URL of a PostgreSQL server (a fresh database is created and dropped).",
    )
    args = parser.parse_args()
    real = args.real
    for name, scripted, with_models in (("users", 50, 10), ("turns", 10, 3), ("think", 3.0, 10.0),
                                        ("admins", 2, 0), ("reviewers", 5, 0),
                                        ("warmup", 0, 10), ("pin", True, False),
                                        ("db", "both", "sqlite")):  # fmt: skip
        if getattr(args, name) is None:
            setattr(args, name, with_models if real else scripted)
    if args.db in {"sqlite", "both"}:
        with tempfile.TemporaryDirectory(prefix="redline-load-db-") as tmp:
            bench("sqlite", f"sqlite:///{Path(tmp) / 'redline.db'}", args)
    if args.db in {"postgresql", "both"}:
        if not args.pg_url:
            print("# postgresql skipped: pass --pg-url or set REDLINE_TEST_PG_URL", file=sys.stderr)
            return
        url, name = fresh_pg_database(args.pg_url)
        try:
            bench("postgresql", url, args)
        finally:
            drop_pg_database(args.pg_url, name)


if __name__ == "__main__":
    main()
