"""The llama.cpp backend: embedded GGUF models, k candidates per call in one batch.

``LlamaCppBackend("smollm2-135m")`` resolves a built-in model (or a GGUF path), shares one
loaded model and context per (file, n_ctx) in the process (loading takes seconds, and two
contexts would double the memory). Calls from many threads (the web server's, the model
worker's) join one continuous batch per context (``batching.py``): each request's
candidates are decoded in the same steps as every other waiting request's. With
``REDLINE_BATCHING=0`` (or ``batching=False``) calls are serialised on the context's lock
instead, one request's candidates per batch. Every call has a deadline; context overflow
drops the oldest unpinned turns; an all-blank reply is redrawn once, then reported.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from redline.config import Settings, load_settings
from redline.errors import (
    BackendTimeout,
    BackendUnavailable,
    ConfigError,
    ContextOverflow,
    EmptyGeneration,
)
from redline.targets.backends.batching import Request, engine_for
from redline.targets.backends.embedding import SpanJob, mean_states, plan_groups
from redline.targets.backends.native import (
    MAX_PARALLEL,
    ContextConfig,
    NativeContext,
    NativeModel,
)
from redline.targets.backends.prompting import (
    TRANSCRIPT_STOPS,
    ChatRenderer,
    FittedPrompt,
    fit_conversation,
    render_transcript,
)
from redline.targets.backends.sampler import (
    TOP_K,
    TOP_P,
    SamplingParams,
    SequenceResult,
    sample_batch,
    seeds_for,
)
from redline.targets.backends.switch import batching_enabled
from redline.targets.base import Conversation, Generation, Message, Sample

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from redline.targets.base import GenerateOptions
from redline.targets.catalogue import ModelSpec, resolve_model
from redline.targets.progress import current as current_progress

#: embed()/embed_spans() get ``timeout_s`` per this many tokens of work (at least once).
EMBED_TOKENS_PER_TIMEOUT = 8192

_registry_lock = threading.Lock()
_models: dict[Path, NativeModel] = {}
_contexts: dict[tuple[Path, int, bool, Path | None], NativeContext] = {}
#: LoRA adapters by (model file, adapter file); they live as long as the model.
_adapters: dict[tuple[Path, Path], object] = {}


def default_threads(settings: Settings | None = None) -> int:
    """Threads for llama.cpp: the ``llama_threads`` setting (REDLINE_LLAMA_THREADS, else
    redline.toml, as :mod:`redline.config` resolves it), else one less than the usable cores.

    Why not every core: ggml's worker threads spin at each barrier, so when anything else
    runs (the web server, the database, another job) a thread per core stalls the whole
    decode. Measured on a loaded 2-core machine, 1 thread decoded k=16 at 92-96 tok/s and
    2 threads at 10-25 tok/s with 9x the CPU time. On an idle machine pass n_threads (or
    set the variable) to use every core.
    """
    configured = (settings or load_settings()).llama_threads
    if configured:
        return configured
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover - not Linux
        cores = os.cpu_count() or 1
    return max(1, cores - 1)


def shared_context(
    path: Path,
    n_ctx: int,
    n_threads: int,
    lora_path: Path | None = None,
    *,
    batching: bool = False,
) -> NativeContext:
    """The process-wide context for (path, n_ctx, batching, lora), loading the model on
    first use.

    A LoRA adapter is set on its own context (the weights stay shared), so the plain and
    the adapted target of one model never see each other's adapter or KV cache; it batches
    its own requests. A batching context has room for many requests' sequences."""
    with _registry_lock:
        key = (path, n_ctx, batching, lora_path)
        ctx = _contexts.get(key)
        if ctx is not None:
            return ctx
        model = _models.get(path)
        if model is None:
            model = _models[path] = NativeModel(path)
        config = ContextConfig(n_ctx=n_ctx, n_threads=n_threads, batching=batching)
        ctx = NativeContext(model, config)
        if lora_path is not None:
            try:
                _attach_lora(ctx, lora_path)
            except BackendUnavailable:
                ctx.close()
                raise
        _contexts[key] = ctx
        return ctx


def _attach_lora(ctx: NativeContext, lora_path: Path) -> None:
    """Load a GGUF LoRA adapter for the context's model and apply it at scale 1."""
    import ctypes

    import llama_cpp as llc

    adapter: Any = _adapters.get((ctx.model.path, lora_path))
    if adapter is None:
        adapter = llc.llama_adapter_lora_init(ctx.model.ptr, str(lora_path).encode())
        if not adapter:
            raise BackendUnavailable(
                f"llama.cpp could not load the LoRA adapter {lora_path} for {ctx.model.path}: "
                "not a GGUF LoRA, or made for another model (REDLINE_LLAMA_LOG=1 says why)"
            )
        _adapters[(ctx.model.path, lora_path)] = adapter
    adapters = (llc.llama_adapter_lora_p_ctypes * 1)(adapter)
    scales = (ctypes.c_float * 1)(1.0)
    if llc.llama_set_adapters_lora(ctx.ptr, adapters, 1, scales) != 0:
        raise BackendUnavailable(f"llama.cpp could not apply the LoRA adapter {lora_path}")


@dataclass
class _Drawn:
    """What the sampling of one call produced, and how it was scheduled."""

    results: list[SequenceResult]
    evaluated: int  # prompt tokens evaluated (the rest came from the cache)
    queue_s: float = 0.0  # waiting for the model before the first decode
    company: int = 0  # the most other requests decoded in the same step


class LlamaCppBackend:
    """A GGUF model through llama-cpp-python, sampling n candidates per call together."""

    #: ``generate(..., embed=True)`` returns each reply's mean final-layer hidden state.
    supports_embeddings = True

    def __init__(
        self,
        model: str | Path,
        *,
        settings: Settings | None = None,
        n_ctx: int = 2048,
        n_threads: int | None = None,
        timeout_s: float = 120.0,
        lora_path: str | Path | None = None,
        batching: bool | None = None,
    ) -> None:
        if n_ctx < 64:
            raise ConfigError(f"n_ctx={n_ctx} is too small for any conversation; use >= 64")
        if timeout_s <= 0:
            raise ConfigError(f"timeout_s must be positive, got {timeout_s}")
        resolved = resolve_model(model, settings)
        self.spec: ModelSpec | None = resolved.spec
        self.path = resolved.path
        self.source_path = resolved.source_path  # the model the (maybe BF16) file stands for
        self.name = resolved.name
        self.n_ctx = n_ctx
        self.n_threads = n_threads or default_threads(settings)
        self.timeout_s = timeout_s
        #: A GGUF LoRA applied on top of the model (the rlhf target); None for plain weights.
        self.lora_path = Path(lora_path).absolute() if lora_path is not None else None
        if self.lora_path is not None and not self.lora_path.is_file():
            raise BackendUnavailable(f"LoRA adapter {self.lora_path} does not exist")
        #: Requests from many threads share decode steps (False: one request at a time).
        self.batching = batching_enabled() if batching is None else batching
        self._ctx = shared_context(
            self.path, n_ctx, self.n_threads, self.lora_path, batching=self.batching
        )
        native = self._ctx.model
        if n_ctx > native.n_ctx_train:
            raise ConfigError(
                f"n_ctx={n_ctx} exceeds what {self.name} was trained on "
                f"({native.n_ctx_train}); use n_ctx <= {native.n_ctx_train}"
            )
        template = native.chat_template
        self.is_chat: bool = self.spec.chat if self.spec else template is not None
        self._chat: ChatRenderer | None = None
        if self.is_chat and template:
            self._chat = ChatRenderer(
                template,
                bos_token=native.token_text(native.special_token("bos")),
                eos_token=native.token_text(native.special_token("eos")),
            )
        self.stop: tuple[str, ...] = () if self._chat else TRANSCRIPT_STOPS
        self._bos_text = native.token_text(native.special_token("bos")) if native.add_bos else ""

    # -- prompt --------------------------------------------------------------------------

    def render_prompt(self, conversation: Sequence[Message]) -> str:
        """What the model sees: its chat template, or a Human:/Assistant: transcript."""
        if self._chat is not None:
            return self._chat(conversation)
        return render_transcript(conversation)

    def prompt_tokens(self, prompt: str) -> list[int]:
        """Tokens of a rendered prompt: special tokens parsed only in chat templates, and a
        BOS added when the model wants one and the template did not write it."""
        native = self._ctx.model
        add_bos = native.add_bos and not (self._bos_text and prompt.startswith(self._bos_text))
        return native.tokenize(prompt, add_special=add_bos, parse_special=self._chat is not None)

    def count_tokens(self, text: str) -> int:
        """Tokens of plain text (no BOS, special-token text counted as ordinary text)."""
        return len(self._ctx.model.tokenize(text, add_special=False, parse_special=False))

    def _fit(self, conversation: Sequence[Message], max_tokens: int) -> FittedPrompt:
        if max_tokens >= self.n_ctx:
            raise ContextOverflow(
                f"{self.name}: max_tokens={max_tokens} leaves no room for a prompt in "
                f"n_ctx={self.n_ctx}; lower max_tokens or raise n_ctx"
            )
        return fit_conversation(
            conversation,
            render=self.render_prompt,
            count=lambda text: len(self.prompt_tokens(text)),
            budget=self.n_ctx - max_tokens,
            where=f"{self.name} (n_ctx={self.n_ctx})",
        )

    # -- generation ----------------------------------------------------------------------

    def _acquire(self, deadline: float, what: str) -> None:
        if not self._ctx.lock.acquire(timeout=max(0.0, deadline - time.monotonic())):
            raise BackendTimeout(
                f"{self.name}: waited {self.timeout_s:g} s for the model, busy with other "
                f"requests, before {what}; retry later or raise timeout_s"
            )

    @contextmanager
    def _exclusive(self, deadline: float, what: str) -> Iterator[None]:
        """The context to this call alone: with batching, the batch in progress finishes
        first and no new request joins until the block ends."""
        if self.batching:
            engine = engine_for(self._ctx)
            try:
                with engine.exclusive(deadline, what, self.timeout_s):
                    yield
            except BackendTimeout as exc:
                raise BackendTimeout(f"{self.name}: {exc}") from None
            return
        self._acquire(deadline, what)
        try:
            yield
        finally:
            self._ctx.lock.release()

    def clear_cache(self) -> None:
        """Forget the cached prompt prefix (benchmarks use it to measure cold prompts)."""
        with self._exclusive(time.monotonic() + self.timeout_s, "clearing the cache"):
            self._ctx.clear()

    def generate(
        self, conversation: Conversation, n: int = 1, **options: Unpack[GenerateOptions]
    ) -> list[Sample]:
        """``n`` sampled replies to the conversation, decoded together in batches.

        Sample.meta holds ``prompt_tokens``, ``prompt_tokens_evaluated`` (not served from
        the prefix cache), ``finish_reason`` ("stop" or "length"), ``dropped_turns``,
        ``seed``, and with ``embed=True`` the mean final-layer hidden state of the reply
        (``embedding``). Raises ContextOverflow, BackendTimeout or EmptyGeneration.
        """
        opts = Generation(**options)
        max_tokens, temperature, seed = opts.max_tokens, opts.temperature, opts.seed
        ignore_eos, embed = opts.ignore_eos, opts.embed
        started = time.monotonic()
        if n < 1 or max_tokens < 1:
            raise ValueError(f"n and max_tokens must be >= 1 (got n={n}, max={max_tokens})")
        if not conversation:
            raise ValueError("generate() needs at least one message")
        deadline = started + self.timeout_s
        fitted = self._fit(conversation, max_tokens)
        tokens = self.prompt_tokens(fitted.text)
        seeds = seeds_for(seed, n)
        drawn = self._sample(tokens, seeds, opts, deadline)
        results, evaluated = drawn.results, drawn.evaluated
        redrawn: set[int] = set()
        if not ignore_eos:
            blank = [i for i, r in enumerate(results) if not r.text.strip()]
            if blank:
                retry_seeds = seeds_for(None if seed is None else seed + 0x9E3779B9, len(blank))
                again = self._sample(tokens, retry_seeds, opts, deadline)
                evaluated += again.evaluated
                drawn.queue_s += again.queue_s
                drawn.company = max(drawn.company, again.company)
                for i, res in zip(blank, again.results, strict=True):
                    results[i] = res
                    redrawn.add(i)
                still = [i for i in blank if not results[i].text.strip()]
                if still:
                    raise EmptyGeneration(
                        f"{self.name}: {len(still)} of {n} replies were blank even after "
                        "one redraw (the model ended its turn at once); rephrase the last "
                        "message, raise temperature, or check the prompt format"
                    )
        latency = time.monotonic() - started
        samples = []
        for i, res in enumerate(results):
            meta: dict[str, object] = {
                "backend": "llamacpp",
                "model": self.name,
                "prompt_tokens": len(tokens),
                "prompt_tokens_evaluated": evaluated,
                "finish_reason": res.finish_reason,
                "dropped_turns": fitted.dropped_turns,
                "dropped_messages": fitted.dropped_messages,
                "seed": res.seed,
                "temperature": temperature,
                "top_k": TOP_K,
                "top_p": TOP_P,
                "batched": n,
                # scheduling: seconds queued for the model, the most other requests that
                # shared a decode step, and the tokens of all n sampled replies
                "queue_s": round(drawn.queue_s, 4),
                "batched_with": drawn.company,
                "request_completion_tokens": sum(len(r.tokens) for r in results),
                "cross_batching": self.batching,
            }
            if i in redrawn:
                meta["redrawn_blank"] = True
            if embed:
                meta["embedding"] = res.embedding()
            if opts.top_logprobs:
                meta["logprobs"] = res.logprobs
            samples.append(
                Sample(
                    text=res.text.strip(),
                    prompt_tokens=len(tokens),
                    completion_tokens=len(res.tokens),
                    latency_s=res.latency_s or latency,
                    meta=meta,
                )
            )
        return samples

    def _sample(
        self, tokens: list[int], seeds: list[int], opts: Generation, deadline: float
    ) -> _Drawn:
        """Run as many batches as needed: at most MAX_PARALLEL sequences each, and no
        more than the KV cache holds beside the shared prompt."""
        fit = (self._ctx.kv_size - len(tokens)) // (opts.max_tokens + 1)
        group = max(1, min(MAX_PARALLEL, fit))
        groups = [
            SamplingParams(
                max_tokens=opts.max_tokens,
                temperature=opts.temperature,
                seeds=seeds[start : start + group],
                deadline=deadline,
                timeout_s=self.timeout_s,
                stop=self.stop,
                ignore_eos=opts.ignore_eos,
                embed=opts.embed,
                top_logprobs=opts.top_logprobs,
            )
            for start in range(0, len(seeds), group)
        ]
        if self.batching:
            return self._sample_batched(tokens, groups)
        results: list[SequenceResult] = []
        evaluated = 0
        started = time.monotonic()
        for params in groups:
            self._acquire(deadline, "generating")
            try:
                self._ctx.set_threads(self.n_threads)
                offset = time.monotonic() - started
                batch, ev = sample_batch(self._ctx, tokens, params)
            finally:
                self._ctx.lock.release()
            for res in batch:
                res.latency_s += offset
            results.extend(batch)
            evaluated += ev
        return _Drawn(results, evaluated, queue_s=0.0)

    def _sample_batched(self, tokens: list[int], groups: list[SamplingParams]) -> _Drawn:
        """Submit every group to the context's engine at once; they join the batch of
        whatever else is running (the groups of one call share its prompt)."""
        engine = engine_for(self._ctx)
        progress = current_progress()
        total = sum(len(p.seeds) for p in groups)
        finished = [0] * len(groups)

        def reporter(index: int) -> Any:
            def report(stage: str, done: int, _total: int) -> None:
                finished[index] = done
                if progress is not None:
                    progress(stage, sum(finished), total)

            return report

        requests = [
            engine.submit(Request(tokens, params, self.name, reporter(i)))
            for i, params in enumerate(groups)
        ]
        drawn = _Drawn([], 0)
        try:
            for req in requests:
                engine.wait(req)
        except BaseException:
            for req in requests:  # the engine drops what no one waits for any more
                req.cancelled = True
            raise
        for req in requests:
            drawn.results.extend(req.results)
            drawn.evaluated += req.evaluated
            drawn.company = max(drawn.company, req.company)
        drawn.queue_s = min(req.queue_s for req in requests)
        return drawn

    # -- hidden states -------------------------------------------------------------------

    def embed(
        self,
        texts: Sequence[str],
        *,
        batch_tokens: int = 2048,
        timeout_s: float | None = None,
    ) -> np.ndarray:
        """One row per text: mean final-layer hidden state over the text's tokens (BOS
        excluded; texts longer than n_ctx keep their first n_ctx - 1 tokens)."""
        native = self._ctx.model
        bos = [native.special_token("bos")] if native.add_bos else []
        jobs = [
            SpanJob(
                prefix=list(bos),
                span=native.tokenize(t, add_special=False, parse_special=False)[
                    : self.n_ctx - 1 - len(bos)
                ],
            )
            for t in texts
        ]
        return self._run_jobs(jobs, batch_tokens, timeout_s)

    def embed_spans(
        self,
        prefixes: Sequence[str],
        replies: Sequence[str],
        *,
        batch_tokens: int = 2048,
        timeout_s: float | None = None,
    ) -> np.ndarray:
        """Mean hidden state over each reply's tokens, evaluated after its prefix.

        Pass ``render_prompt(conversation)`` as the prefix to get the features that
        ``generate(..., embed=True)`` returns (up to tokenisation of the reply text). Too
        long pairs keep the end of the prefix and the start of the reply.
        """
        if len(prefixes) != len(replies):
            raise ValueError(f"embed_spans: {len(prefixes)} prefixes but {len(replies)} replies")
        native = self._ctx.model
        jobs = []
        for prefix, reply in zip(prefixes, replies, strict=True):
            head = self.prompt_tokens(prefix)
            span = native.tokenize(reply, add_special=False, parse_special=False)
            span = span[: self.n_ctx - 1]
            head = head[max(0, len(head) + len(span) - self.n_ctx) :]
            jobs.append(SpanJob(prefix=head, span=span))
        return self._run_jobs(jobs, batch_tokens, timeout_s)

    def _run_jobs(
        self, jobs: Sequence[SpanJob], batch_tokens: int, timeout_s: float | None
    ) -> np.ndarray:
        native = self._ctx.model
        out = np.zeros((len(jobs), native.n_embd), dtype=np.float32)
        if not jobs:
            return out
        work = sum(len(j.prefix) + len(j.span) for j in jobs)
        limit = timeout_s or self.timeout_s * max(1.0, work / EMBED_TOKENS_PER_TIMEOUT)
        deadline = time.monotonic() + limit
        budget = self._ctx.kv_size - self.n_ctx  # leaves room for a cached prompt
        budget = max(budget, self.n_ctx)
        for group in plan_groups(jobs, budget):
            with self._exclusive(deadline, "computing hidden states"):
                self._ctx.set_threads(self.n_threads)
                need = sum(len(jobs[i].prefix) + len(jobs[i].span) for i in group)
                if need + self._ctx.cached_cells > self._ctx.kv_size:
                    self._ctx.clear()
                rows = mean_states(
                    self._ctx,
                    jobs,
                    group,
                    per_decode=batch_tokens,
                    deadline=deadline,
                    timeout_s=limit,
                )
            for i, vec in rows.items():
                out[i] = vec
        return out
