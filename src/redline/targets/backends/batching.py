"""Continuous batching across requests: every waiting request's sequences share decodes.

Why: on a CPU, one ``llama_decode`` of 20 sequences costs little more than one of 2 (the
weights are read once per step either way; ``sampling_bench``: 16 sequences together cost
about a quarter of 16 one after another). Ten red teamers each waiting for two candidates
are twenty sequences; decoded request after request they wait for each other's whole
replies, decoded together they share every step.

How (one :class:`BatchEngine` thread per llama.cpp context, i.e. per model and LoRA
adapter):

- a request (prompt tokens, sampling parameters with one seed per candidate) gets a prompt
  sequence and one sequence per candidate, its own sampler chains and its own positions;
- its prompt starts from the longest prefix already in the KV cache (one of the cached
  prompts or another live request's prompt: the few-shot prompts are shared, not
  re-evaluated), and the rest is evaluated once, in chunks, between decode steps;
- every decode step feeds one token of every live candidate of every request (plus the
  last prompt token of requests about to start) in one ``llama_decode`` call;
- admission is first come, first served at every step: a request joins at the next step
  when its sequences and KV cells fit, so no request waits behind more than the batch in
  progress, and no later request overtakes it;
- a request that finishes frees its sequences at once and leaves its prompt in one of
  :data:`CACHE_SLOTS` cached-prompt sequences, for the next turn of the same conversation
  and for every request with the same few-shot prompt. Several slots, because the targets
  that share a model (plain, hhh, rs16) have different few-shot prompts: with one slot,
  turns of plain and hhh conversations evicted each other's prompt and each re-evaluated
  its ~1,100-token HHH prefix. A finished prompt replaces the slot it shares most with (its
  own conversation's previous turn, or another conversation on the same few-shot prompt),
  so the slots keep one copy of each few-shot prompt in use.

Decodes of different contexts (models, adapters) pass one gate (:data:`DECODE_GATE`,
first come first served) that lets as many run at once as the cores hold at their thread
counts: on 2 cores with llama.cpp's default of 1 thread, two models decode side by side,
each on its own core, instead of one model's step waiting for the other's; with more
threads per decode than half the cores, they take turns, so llama.cpp's busy-waiting
threads never share a core.

A request alone decodes exactly what ``sampler.sample_batch`` decodes (prompt chunks, the
last prompt token alone, then its candidates), so its seeds reproduce solo results. In
company the matrix kernels see wider batches, which may change the last bits of a logit:
the same seed then gives the same reply up to such floating-point differences.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from redline.errors import BackendError, BackendTimeout
from redline.targets.backends.native import N_BATCH, NativeContext
from redline.targets.backends.sampler import (
    Samplers,
    SamplingParams,
    SequenceResult,
    accept_token,
    partial_report,
)
from redline.targets.progress import ProgressCallback

log = logging.getLogger(__name__)

#: How long a caller waits past its deadline for the engine to report before giving up.
WAIT_GRACE_S = 2.0
#: How often a waiting engine checks deadlines (seconds).
POLL_S = 0.1
#: Prompts kept in the KV cache between requests (the top sequence ids of the context;
#: hidden-state passes use the low ones). Prompts that share a prefix share its cells.
CACHE_SLOTS = 4


class FairGate:
    """Room for ``capacity`` threads, granted in request order: a decode of ``threads``
    threads enters when it is next and fits beside those inside (or nobody is inside).

    Why in order: a plain lock lets a releasing thread take it straight back, which would
    starve the engines of other models. Why counted in threads: llama.cpp's threads
    busy-wait at every barrier, so two decodes must never share a core."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self._cond = threading.Condition()
        self._next = 0  # the next ticket to hand out
        self._admit = 0  # the next ticket allowed in
        self._used = 0  # threads inside

    @contextmanager
    def held(self, threads: int = 1) -> Iterator[None]:
        with self._cond:
            ticket = self._next
            self._next += 1
            while ticket != self._admit or (self._used and self._used + threads > self.capacity):
                self._cond.wait()
            self._admit += 1
            self._used += threads
            self._cond.notify_all()
        try:
            yield
        finally:
            with self._cond:
                self._used -= threads
                self._cond.notify_all()


def usable_cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        return os.cpu_count() or 1


DECODE_GATE = FairGate(usable_cores())


@dataclass(eq=False)
class Request:
    """One call's sequences: submitted by a caller thread, run by the engine."""

    tokens: list[int]
    params: SamplingParams
    label: str
    progress: ProgressCallback | None = None
    submitted: float = field(default_factory=time.monotonic)
    admitted: float | None = None
    results: list[SequenceResult] = field(default_factory=list)
    evaluated: int = 0  # prompt tokens evaluated (the rest came from the cache)
    company: int = 0  # the most other requests decoded in the same step as this one
    error: BaseException | None = None
    cancelled: bool = False
    finished: threading.Event = field(default_factory=threading.Event)

    @property
    def queue_s(self) -> float:
        """Seconds between submission and admission to the batch."""
        return (self.admitted or time.monotonic()) - self.submitted

    def busy_error(self) -> BackendTimeout:
        return BackendTimeout(
            f"{self.label}: waited {self.params.timeout_s:g} s for the model, busy with other "
            "requests, before generating; retry later or raise timeout_s"
        )

    def decode_timeout(self) -> BackendTimeout:
        return BackendTimeout(
            f"llama.cpp did not finish within {self.params.timeout_s:g} s while decoding "
            f"({partial_report(self.results)}); raise timeout_s or lower max_tokens/n"
        )


@dataclass(eq=False)
class _Live:
    """Engine-side state of an admitted request."""

    req: Request
    prompt_seq: int
    seqs: list[int]
    samplers: Samplers
    cells: int  # KV cells reserved for it
    cursor: int  # prompt tokens present in prompt_seq
    phase: str = "prompt"  # "prompt" -> "last" -> "decode"
    pos: int = 0  # position of the next generated token to feed
    reported: int = -1

    @property
    def tokens(self) -> list[int]:
        return self.req.tokens

    def needs_row(self, res: SequenceResult) -> bool:
        """Unfinished, or stopped by length with its last token's hidden state pending."""
        if not res.done:
            return True
        return self.req.params.embed and res.finish_reason == "length" and res.fed < len(res.tokens)


class BatchEngine:
    """Runs every request on one context in shared decode steps (see the module doc)."""

    def __init__(self, ctx: NativeContext) -> None:
        self.ctx = ctx
        self._cond = threading.Condition()
        self._pending: deque[Request] = deque()
        self._live: list[_Live] = []
        top = ctx.config.n_seq_max - 1
        self._slots = list(range(top, top - CACHE_SLOTS, -1))
        self._free = list(range(top - CACHE_SLOTS, 0, -1))  # 0: the solo path's prompt
        self._clock = 0
        self._last_used: dict[int, int] = {}  # cached-prompt slot -> when last used
        self._reserved = 0
        self._exclusive = 0
        self._thread: threading.Thread | None = None
        #: decode steps run and requests admitted (tests and benchmarks read them)
        self.steps = 0
        self.admitted = 0

    # -- callers ---------------------------------------------------------------------------

    def submit(self, req: Request) -> Request:
        """Queue a request; the engine admits it at its next step boundary."""
        seqs, cells = self.ctx.config.n_seq_max - 1 - CACHE_SLOTS, self.ctx.kv_size
        need = len(req.tokens) + len(req.params.seeds) * (req.params.max_tokens + 1)
        if len(req.params.seeds) + 1 > seqs or need > cells:
            raise BackendError(
                f"internal: a request of {len(req.params.seeds)} sequences and {need} KV "
                f"cells exceeds the batching context ({seqs} sequences, {cells} cells)"
            )
        with self._cond:
            self._pending.append(req)
            if self._thread is None or not self._thread.is_alive():
                self._thread = threading.Thread(
                    target=self._run, name="redline-batch-engine", daemon=True
                )
                self._thread.start()
            self._cond.notify_all()
        if req.progress:
            req.progress("queued", 0, len(req.params.seeds))
        return req

    def wait(self, req: Request) -> Request:
        """Block until the request is done; raise its error (a timeout past the deadline)."""
        remaining = req.params.deadline - time.monotonic()
        if not req.finished.wait(timeout=max(0.0, remaining) + WAIT_GRACE_S):
            with self._cond:
                if not req.finished.is_set():
                    # The engine is stuck (a long decode, or someone holds the context's
                    # lock): give up on our side; the engine drops the request.
                    req.cancelled = True
                    waiting = req in self._pending
                    if waiting:
                        self._pending.remove(req)
                    self._cond.notify_all()
                    raise req.busy_error() if waiting else req.decode_timeout()
        if req.error is not None:
            raise req.error
        return req

    @contextmanager
    def exclusive(self, deadline: float, what: str, timeout_s: float) -> Iterator[None]:
        """The context to oneself (hidden states, clearing the cache): admission pauses,
        the requests in progress finish, then the context's lock is taken."""

        def busy() -> BackendTimeout:
            return BackendTimeout(
                f"waited {timeout_s:g} s for the model, busy with other requests, before "
                f"{what}; retry later or raise timeout_s"
            )

        with self._cond:
            self._exclusive += 1
        try:
            with self._cond:
                while self._live:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise busy()
                    self._cond.wait(timeout=min(left, POLL_S))
            if not self.ctx.lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
                raise busy()
            try:
                yield
            finally:
                self.ctx.lock.release()
        finally:
            with self._cond:
                self._exclusive -= 1
                self._cond.notify_all()

    # -- the engine thread -----------------------------------------------------------------

    def _run(self) -> None:
        while True:
            with self._cond:
                self._expire_pending()
                while not self._live and (not self._pending or self._exclusive):
                    self._cond.wait(timeout=POLL_S * 10)
                    self._expire_pending()
            if not self.ctx.lock.acquire(timeout=POLL_S):
                with self._cond:
                    self._expire_pending()
                    self._drop(lambda live: live.req.cancelled, None)
                continue
            try:
                self._iterate()
            except BaseException as exc:  # the engine must outlive any one failure
                log.exception("batch engine step failed")
                error = (
                    exc
                    if isinstance(exc, BackendError)
                    else BackendError(f"the model failed while decoding ({type(exc).__name__})")
                )
                with self._cond:
                    self._drop(lambda live: True, error)
                self.ctx.clear()
            finally:
                self.ctx.lock.release()

    def _expire_pending(self) -> None:
        """Fail queued requests whose deadline passed (caller holds ``_cond``)."""
        now = time.monotonic()
        for req in [r for r in self._pending if r.cancelled or now > r.params.deadline]:
            self._pending.remove(req)
            self._finish(req, None if req.cancelled else req.busy_error())

    def _finish(self, req: Request, error: BaseException | None) -> None:
        req.error = error
        req.finished.set()
        self._cond.notify_all()

    def _release(self, live: _Live) -> None:
        """Free a request's sequences and cells (caller holds the context's lock)."""
        live.samplers.close()
        for seq in live.seqs:
            self.ctx.seq_remove(seq)
        self.ctx.seq_remove(live.prompt_seq)
        self._free.extend([*live.seqs, live.prompt_seq])
        self._reserved -= live.cells

    def _drop(self, which: Callable[[_Live], bool], error: BaseException | None) -> None:
        """Remove live requests matching ``which`` (caller holds both locks); ``error``
        None means each gets its own timeout error, or none if its caller left."""
        for live in [item for item in self._live if which(item)]:
            self._live.remove(live)
            self._release(live)
            req = live.req
            self._finish(req, error or (None if req.cancelled else req.decode_timeout()))

    def _touch(self, slot: int) -> None:
        self._clock += 1
        self._last_used[slot] = self._clock

    def _prefix_source(self, tokens: list[int]) -> tuple[int, int]:
        """(sequence, length) of the longest prefix of ``tokens`` already in the cache."""
        best_seq, best = -1, 0
        for slot, cached in self.ctx.cached_prompts.items():
            have = _common_prefix(cached, tokens)
            if have > best:
                best_seq, best = slot, have
        for live in self._live:
            have = _common_prefix(live.tokens[: live.cursor], tokens)
            if have > best:
                best_seq, best = live.prompt_seq, have
        return best_seq, min(best, len(tokens) - 1)

    def _evict_oldest(self) -> None:
        """Drop the least recently used cached prompt (to make room for a request)."""
        cached = self.ctx.cached_prompts
        slot = min(cached, key=lambda s: self._last_used.get(s, 0))
        self.ctx.seq_remove(slot)
        del cached[slot]

    def _slot_for(self, tokens: list[int]) -> int:
        """Where a finished prompt is kept: the slot it extends, an empty slot, else the slot
        sharing the longest prefix with it (the least recently used among equals)."""
        cached = self.ctx.cached_prompts
        superseded = [s for s in cached if _common_prefix(cached[s], tokens) == len(cached[s])]
        if superseded:  # this conversation's previous turn: the new prompt contains it
            return superseded[0]
        empty = [slot for slot in self._slots if slot not in cached]
        if empty:
            return empty[0]
        return max(
            self._slots,
            key=lambda s: (_common_prefix(cached[s], tokens), -self._last_used.get(s, 0)),
        )

    def _admit(self) -> None:
        """Start queued requests in arrival order while they fit (holds ``_cond``)."""
        ctx = self.ctx
        while self._pending and not self._exclusive:
            req = self._pending[0]
            k = len(req.params.seeds)
            src, keep = self._prefix_source(req.tokens)
            cells = len(req.tokens) - keep + k * (req.params.max_tokens + 1)
            fits_cells = self._reserved + cells + ctx.cached_cells <= ctx.kv_size
            if not fits_cells and ctx.cached_prompts and self._reserved + cells <= ctx.kv_size:
                self._evict_oldest()  # make room, then look for the prefix again
                continue
            if len(self._free) < k + 1 or not fits_cells:
                return  # first come, first served: later requests wait behind this one
            self._pending.popleft()
            prompt_seq = self._free.pop()
            seqs = [self._free.pop() for _ in range(k)]
            if keep:
                ctx.seq_copy_range(src, prompt_seq, 0, keep)
                if src in ctx.cached_prompts:
                    self._touch(src)
            req.admitted = time.monotonic()
            req.evaluated = len(req.tokens) - keep
            req.results = [SequenceResult(seed=s) for s in req.params.seeds]
            live = _Live(
                req=req,
                prompt_seq=prompt_seq,
                seqs=seqs,
                samplers=Samplers(ctx, req.params),
                cells=cells,
                cursor=keep,
                phase="prompt" if keep < len(req.tokens) - 1 else "last",
                pos=len(req.tokens),
            )
            self._reserved += cells
            self._live.append(live)
            self.admitted += 1

    def _iterate(self) -> None:
        """One step (caller holds the context's lock): expire, admit, evaluate prompt
        chunks, decode one token of every live sequence, finish what is done."""
        ctx = self.ctx
        with self._cond:
            self._expire_pending()
            now = time.monotonic()
            self._drop(lambda live: live.req.cancelled or now > live.req.params.deadline, None)
            self._admit()
            live_now = list(self._live)
        if not live_now:
            return
        # Prompt chunks first (no outputs, hidden states off: they would output every row).
        rows: list[tuple[int, int, int, bool]] = []
        chunked: list[tuple[_Live, int]] = []
        for live in live_now:
            if live.phase != "prompt" or len(rows) >= N_BATCH:
                continue
            body_end = len(live.tokens) - 1
            take = min(body_end - live.cursor, N_BATCH - len(rows))
            rows += [
                (live.tokens[p], p, live.prompt_seq, False)
                for p in range(live.cursor, live.cursor + take)
            ]
            chunked.append((live, take))
        if rows:
            ctx.set_embeddings(False)
            with DECODE_GATE.held(ctx.n_threads):
                ctx.decode(rows, what="evaluating prompts")
            for live, take in chunked:
                live.cursor += take
                if live.cursor >= len(live.tokens) - 1:
                    live.phase = "last"
        # The token step: last prompt tokens and one token per live candidate.
        rows, owners = [], []
        for live in live_now:
            if live.phase == "last":
                rows.append((live.tokens[-1], len(live.tokens) - 1, live.prompt_seq, True))
                owners.append((live, -1))
            elif live.phase == "decode":
                for i, res in enumerate(live.req.results):
                    if live.needs_row(res):
                        rows.append((res.tokens[-1], live.pos, live.seqs[i], True))
                        owners.append((live, i))
        if rows:
            stepping = {id(live) for live, _ in owners}
            embed = any(live.req.params.embed for live, i in owners if i >= 0)
            ctx.set_embeddings(embed)
            with DECODE_GATE.held(ctx.n_threads):
                ctx.decode(rows, what=f"decoding {len(rows)} rows of {len(stepping)} request(s)")
            self.steps += 1
            for live in live_now:
                if id(live) in stepping:
                    live.req.company = max(live.req.company, len(stepping) - 1)
            for row, (live, i) in enumerate(owners):
                params = live.req.params
                if i < 0:  # the prompt is complete: candidates share it, sample first tokens
                    live.cursor = len(live.tokens)
                    for seq in live.seqs:
                        ctx.seq_copy(live.prompt_seq, seq)
                    for j, res in enumerate(live.req.results):
                        accept_token(ctx, res, live.samplers.sample(j, row), params, row)
                    live.phase = "decode"
                    continue
                res = live.req.results[i]
                res.fed += 1
                if params.embed:
                    res.hidden.append(ctx.hidden(row))
                if not res.done:
                    accept_token(ctx, res, live.samplers.sample(i, row), params, row)
            for live in {id(live): live for live, i in owners if i >= 0}.values():
                live.pos += 1
        self._complete(live_now)

    def _complete(self, live_now: list[_Live]) -> None:
        """Report progress; hand finished requests back and cache their prompt."""
        ctx = self.ctx
        now = time.monotonic()
        for live in live_now:
            req = live.req
            if live.phase != "decode":
                continue
            for res in req.results:
                if res.done and not res.latency_s:
                    res.latency_s = now - req.submitted
            done = sum(1 for res in req.results if res.done)
            if req.progress and done != live.reported:
                live.reported = done
                req.progress("writing", done, len(req.results))
            if any(live.needs_row(res) for res in req.results):
                continue
            for res in req.results:
                if not res.cut:
                    res.text = res.data.decode("utf-8", "ignore")
            # The next turn of this conversation starts with this prompt: keep it.
            slot = self._slot_for(live.tokens)
            ctx.seq_remove(slot)
            ctx.seq_copy(live.prompt_seq, slot)
            ctx.cached_prompts[slot] = list(live.tokens)
            self._touch(slot)
            with self._cond:
                self._live.remove(live)
                self._release(live)
                self._finish(req, None)


def _common_prefix(a: list[int], b: list[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


_engines_lock = threading.Lock()


def engine_for(ctx: NativeContext) -> BatchEngine:
    """The context's engine, created on first use."""
    with _engines_lock:
        engine = ctx.engine
        if not isinstance(engine, BatchEngine):
            engine = ctx.engine = BatchEngine(ctx)
        return engine
