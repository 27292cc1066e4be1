"""Cross-request batching on a real model (SmolLM2-135M): requests that arrive together
share decode steps, join a batch in progress, keep their own sequences and samplers, and
fail alone. Outputs are short so each test takes seconds."""

from __future__ import annotations

import functools
import tempfile
import threading
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from redline.config import Settings, load_settings
from redline.errors import BackendTimeout
from redline.targets.backends.batching import FairGate, engine_for
from redline.targets.backends.llamacpp import LlamaCppBackend
from redline.targets.base import Message, Sample
from redline.targets.progress import reporting

pytestmark = pytest.mark.slow

SYSTEM = Message("system", "You are a helpful, honest and harmless assistant.", pinned=True)
ASKS = [
    Message("human", f"Name {thing} that is yellow.")
    for thing in ("a fruit", "a flower", "a bird", "a stone")
]


@cache
def _settings() -> Settings:
    root = Path(tempfile.mkdtemp(prefix="redline-batching-test-"))
    return load_settings(data_dir=root / "data", cwd=root)


@cache
def smollm() -> LlamaCppBackend:
    return LlamaCppBackend("smollm2-135m", settings=_settings(), n_ctx=1024, batching=True)


def together(calls: list[Callable[[], Any]], stagger_s: float = 0.0) -> list[Any]:
    """Run the calls in threads started together (or ``stagger_s`` apart); results or
    exceptions, in order."""
    out: list[Any] = [None] * len(calls)

    def run(i: int) -> None:
        try:
            out[i] = calls[i]()
        except BaseException as exc:
            out[i] = exc

    threads = [threading.Thread(target=run, args=(i,)) for i in range(len(calls))]
    for t in threads:
        t.start()
        time.sleep(stagger_s)
    for t in threads:
        t.join(timeout=300)
    return out


def test_requests_that_arrive_together_share_steps_and_keep_their_own_replies() -> None:
    backend = smollm()
    engine = engine_for(backend._ctx)

    def ask(i: int) -> list[Sample]:
        return backend.generate([SYSTEM, ASKS[i]], n=2, max_tokens=6, temperature=0.0)

    solo = [ask(i) for i in range(len(ASKS))]
    solo_steps = engine.steps
    steps_before = engine.steps
    got = together([functools.partial(ask, i) for i in range(len(ASKS))])
    assert not [g for g in got if isinstance(g, BaseException)], got
    # Greedy replies do not depend on the company: no sequence saw another's tokens.
    assert [[s.text for s in g] for g in got] == [[s.text for s in g] for g in solo]
    assert max(g[0].meta["batched_with"] for g in got) >= 2
    assert engine.steps - steps_before < solo_steps / 2, "decode steps were not shared"
    assert all(g[0].meta["cross_batching"] is True for g in got)


def test_a_request_joins_a_batch_in_progress_and_finishes_first() -> None:
    backend = smollm()
    finished: dict[str, float] = {}

    def long() -> list[Sample]:
        out = backend.generate([SYSTEM, ASKS[0]], n=2, max_tokens=160, ignore_eos=True, seed=1)
        finished["long"] = time.monotonic()
        return out

    def short() -> list[Sample]:
        out = backend.generate([SYSTEM, ASKS[1]], n=2, max_tokens=4, seed=2)
        finished["short"] = time.monotonic()
        return out

    long_out, short_out = together([long, short], stagger_s=1.0)
    assert isinstance(long_out, list) and isinstance(short_out, list)
    assert finished["short"] < finished["long"], "the short request waited for the long one"
    assert short_out[0].meta["batched_with"] >= 1
    assert short_out[0].meta["queue_s"] < 1.0
    assert all(s.completion_tokens == 160 for s in long_out)


def test_hidden_states_in_company_match_a_separate_pass() -> None:
    backend = smollm()
    conv = [SYSTEM, ASKS[2]]

    def rs_like() -> list[Sample]:
        return backend.generate(conv, n=16, max_tokens=10, seed=4, embed=True)

    def plain() -> list[Sample]:
        return backend.generate([SYSTEM, ASKS[3]], n=2, max_tokens=10, seed=5)

    drawn, other = together([rs_like, plain])
    assert isinstance(drawn, list) and isinstance(other, list), (drawn, other)
    assert len(drawn) == 16 and len(other) == 2
    prefix = backend.render_prompt(conv)
    spans = backend.embed_spans([prefix] * 3, [s.text for s in drawn[:3]])
    for sample, row in zip(drawn[:3], spans, strict=True):
        vec = np.asarray(sample.meta["embedding"])
        assert float(vec @ row / (np.linalg.norm(vec) * np.linalg.norm(row))) > 0.98


def test_progress_is_reported_from_queued_to_every_reply_written() -> None:
    seen: list[tuple[str, int, int]] = []
    with reporting(lambda stage, done, total: seen.append((stage, done, total))):
        smollm().generate([SYSTEM, ASKS[0]], n=4, max_tokens=6, seed=3)
    assert seen[0] == ("queued", 0, 4)
    assert seen[-1] == ("writing", 4, 4)
    done = [d for stage, d, _ in seen if stage == "writing"]
    assert done == sorted(done)


def test_a_request_that_times_out_fails_alone() -> None:
    impatient = LlamaCppBackend(
        "smollm2-135m", settings=_settings(), n_ctx=1024, batching=True, timeout_s=1.0
    )
    assert impatient._ctx is smollm()._ctx  # the same context: one batch

    def slow() -> list[Sample]:
        return impatient.generate([SYSTEM, ASKS[0]], n=4, max_tokens=900, ignore_eos=True)

    def fine() -> list[Sample]:
        return smollm().generate([SYSTEM, ASKS[1]], n=2, max_tokens=8, seed=1)

    failed, ok = together([slow, fine], stagger_s=0.2)
    assert isinstance(failed, BackendTimeout) and "within 1 s" in str(failed), failed
    assert isinstance(ok, list) and len(ok) == 2
    assert smollm().generate([SYSTEM, ASKS[2]], n=1, max_tokens=4, seed=1)[0].text


def test_hidden_states_wait_for_the_batch_in_progress() -> None:
    backend = smollm()
    alone = backend.embed(["How do I bake bread?"])

    def generate() -> list[Sample]:
        return backend.generate([SYSTEM, ASKS[0]], n=2, max_tokens=40, seed=9)

    def embed() -> Any:
        return backend.embed(["How do I bake bread?"])

    drawn, rows = together([generate, embed], stagger_s=0.3)
    assert isinstance(drawn, list) and len(drawn) == 2, drawn
    assert isinstance(rows, np.ndarray), rows
    assert float(rows[0] @ alone[0] / (np.linalg.norm(rows[0]) * np.linalg.norm(alone[0]))) > 0.999


def test_prompts_of_two_few_shot_prefixes_both_stay_cached() -> None:
    """Targets sharing a model (plain, hhh) have different few-shot prompts: turns that
    alternate between them must not evict each other's prefix (one slot did)."""
    backend = smollm()
    long_a = Message("system", "You answer questions about fruit. " * 40, pinned=True)
    long_b = Message("system", "You answer questions about birds. " * 40, pinned=True)

    def evaluated(system: Message, ask: Message) -> int:
        out = backend.generate([system, ask], n=1, max_tokens=2, seed=1)
        return int(out[0].meta["prompt_tokens_evaluated"])

    backend.clear_cache()
    first_a = evaluated(long_a, ASKS[0])
    first_b = evaluated(long_b, ASKS[0])
    assert first_a > 200 and first_b > 200  # cold: the whole prefix was evaluated
    # Alternating again: each finds its own prefix cached, only the question is new.
    assert evaluated(long_a, ASKS[1]) < 40
    assert evaluated(long_b, ASKS[1]) < 40
    assert evaluated(long_a, ASKS[2]) < 40
    engine = engine_for(backend._ctx)
    assert len(backend._ctx.cached_prompts) <= len(engine._slots)


def test_the_decode_gate_admits_in_order_and_counts_threads() -> None:
    """Two one-thread decodes share two cores; a two-thread decode waits for the cores to
    be free, and one that came later never overtakes it."""
    gate = FairGate(capacity=2)
    order: list[str] = []
    inside: list[int] = []
    active = [0]
    lock = threading.Lock()

    def decode(name: str, threads: int, hold_s: float) -> None:
        with gate.held(threads):
            with lock:
                active[0] += threads
                inside.append(active[0])
                order.append(name)
            time.sleep(hold_s)
            with lock:
                active[0] -= threads

    first = threading.Thread(target=decode, args=("a", 1, 0.3))
    second = threading.Thread(target=decode, args=("b", 1, 0.3))
    wide = threading.Thread(target=decode, args=("wide", 2, 0.1))
    late = threading.Thread(target=decode, args=("late", 1, 0.1))
    for thread in (first, second, wide, late):
        thread.start()
        time.sleep(0.05)
    for thread in (first, second, wide, late):
        thread.join(timeout=10)
    assert order == ["a", "b", "wide", "late"]
    assert inside[:2] == [1, 2]  # a and b ran side by side
    assert max(inside) == 2  # never more threads than cores
