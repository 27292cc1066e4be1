"""Batched multi-sequence sampling: one prompt evaluation, k sequences decoded together.

Why: rejection sampling draws 16 candidates per turn. Drawn one after another that is 16
prompt evaluations and 16 x max_tokens single-token decodes, each of which reads all the
weights for one token. Here the prompt is evaluated once in sequence 0, its KV cells are
shared with sequences 1..k (``llama_memory_seq_cp`` on a unified cache tags cells, it does
not copy them), and every step decodes one token for each live sequence in a single
batch, so the weights are read once per step for all k sequences. Each sequence has its
own sampler chain (top-k, top-p, temperature, its own seed).

Hidden states for ``embed=True`` are taken from the same decode calls: the state of each
reply token is the output row where that token was fed. A sequence that stops by length
has its last token fed once more in the next batch (it is never sampled from).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import llama_cpp as llc
import numpy as np

from redline.errors import BackendError, BackendTimeout
from redline.targets.backends.native import N_BATCH, NativeContext

TOP_K = 40
TOP_P = 0.95


@dataclass(frozen=True)
class SamplingParams:
    """Everything one batched call needs; ``deadline`` is a ``time.monotonic()`` value."""

    max_tokens: int
    temperature: float
    seeds: Sequence[int]
    deadline: float
    timeout_s: float
    stop: Sequence[str] = ()
    ignore_eos: bool = False
    embed: bool = False
    top_logprobs: int = 0


@dataclass
class SequenceResult:
    """One candidate: its tokens, its text (cut at a stop string), why it stopped."""

    seed: int
    tokens: list[int] = field(default_factory=list)
    data: bytearray = field(default_factory=bytearray)
    offsets: list[int] = field(default_factory=list)  # byte offset where each token starts
    text: str = ""
    cut: bool = False  # a stop string ended the text (``text`` is final)
    finish_reason: str = ""  # "stop" (end token or stop string) or "length"
    hidden: list[np.ndarray] = field(default_factory=list)  # state where token j was fed
    fed: int = 0  # how many of ``tokens`` have been fed to the model
    latency_s: float = 0.0
    #: with ``top_logprobs``: per token, {"token": its text, "top": {text: log-probability}}
    logprobs: list[dict[str, object]] = field(default_factory=list)

    @property
    def done(self) -> bool:
        return bool(self.finish_reason)

    def embedding(self) -> list[float] | None:
        """Mean hidden state over the tokens of the kept text (a stop string's tokens and
        an end token do not count); None when the reply has no tokens."""
        cut = len(self.text.encode("utf-8"))
        kept = sum(1 for start in self.offsets if start < cut)
        states = self.hidden[:kept]
        if not states:
            return None
        return [float(x) for x in np.mean(states, axis=0)]


def seeds_for(seed: int | None, n: int) -> list[int]:
    """n independent 32-bit seeds from one seed (fresh entropy when None)."""
    return [int(s) for s in np.random.SeedSequence(seed).generate_state(n, dtype=np.uint32)]


def _common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    n = min(len(a), len(b))
    i = 0
    while i < n and a[i] == b[i]:
        i += 1
    return i


def _check_deadline(params: SamplingParams, what: str) -> None:
    if time.monotonic() > params.deadline:
        raise BackendTimeout(f"llama.cpp did not finish within {params.timeout_s:g} s ({what})")


def evaluate_prompt(ctx: NativeContext, tokens: list[int], params: SamplingParams) -> int:
    """Put ``tokens`` in sequence 0, reusing the cached prefix; leave logits for the last one.

    The last token is always decoded alone, so the first sampling step sees logits computed
    the same way whether or not the prefix came from the cache (reproducible seeds).
    Returns how many tokens were evaluated (the rest came from the cache).
    """
    ctx.reset_candidates()
    ctx.set_embeddings(False)
    keep = min(_common_prefix(ctx.prompt_cache, tokens), len(tokens) - 1)
    if keep < len(ctx.prompt_cache) and not ctx.seq_remove(0, keep):
        ctx.clear()
        keep = 0
    ctx.prompt_cache = tokens[:keep]
    try:
        body = tokens[:-1]
        for start in range(keep, len(body), N_BATCH):
            _check_deadline(params, f"evaluating the prompt, {start}/{len(tokens)} tokens done")
            chunk = body[start : start + N_BATCH]
            ctx.decode(
                [(tok, start + i, 0, False) for i, tok in enumerate(chunk)],
                what="evaluating the prompt",
            )
        _check_deadline(params, "evaluating the prompt")
        ctx.decode([(tokens[-1], len(tokens) - 1, 0, True)], what="evaluating the prompt")
    except BaseException:
        ctx.clear()
        raise
    ctx.prompt_cache = list(tokens)
    return len(tokens) - keep


class Samplers:
    """One llama.cpp sampler chain per sequence, freed on exit."""

    def __init__(self, ctx: NativeContext, params: SamplingParams) -> None:
        self.chains: list[int] = []
        eog = ctx.model.eog_tokens if params.ignore_eos else []
        biases = (llc.llama_logit_bias * len(eog))(
            *(llc.llama_logit_bias(tok, float("-inf")) for tok in eog)
        )
        for seed in params.seeds:
            chain = llc.llama_sampler_chain_init(llc.llama_sampler_chain_default_params())
            if eog:
                llc.llama_sampler_chain_add(
                    chain, llc.llama_sampler_init_logit_bias(ctx.model.n_vocab, len(eog), biases)
                )
            if params.temperature <= 0:
                llc.llama_sampler_chain_add(chain, llc.llama_sampler_init_greedy())
            else:
                llc.llama_sampler_chain_add(chain, llc.llama_sampler_init_top_k(TOP_K))
                llc.llama_sampler_chain_add(chain, llc.llama_sampler_init_top_p(TOP_P, 1))
                llc.llama_sampler_chain_add(chain, llc.llama_sampler_init_temp(params.temperature))
                llc.llama_sampler_chain_add(chain, llc.llama_sampler_init_dist(seed & 0xFFFFFFFF))
            self.chains.append(chain)
        self.ctx_ptr = ctx.ptr

    def sample(self, seq_index: int, row: int) -> int:
        return int(llc.llama_sampler_sample(self.chains[seq_index], self.ctx_ptr, row))

    def close(self) -> None:
        for chain in self.chains:
            llc.llama_sampler_free(chain)
        self.chains = []


def top_logprobs(ctx: NativeContext, row: int, k: int) -> dict[str, float]:
    """The ``k`` most likely next tokens after batch row ``row``, text -> log-probability
    (pieces with the same text, such as byte fallbacks, are summed)."""
    ptr = llc.llama_get_logits_ith(ctx.ptr, row)
    if not ptr:
        raise BackendError(f"internal: no logits for batch row {row}")
    logits = np.ctypeslib.as_array(ptr, shape=(ctx.model.n_vocab,)).astype(np.float64)
    peak = logits.max()
    log_total = peak + np.log(np.exp(logits - peak).sum())
    k = min(k, logits.size)
    best = np.argpartition(-logits, k - 1)[:k]
    out: dict[str, float] = {}
    for tok in best[np.argsort(-logits[best])]:
        text = ctx.model.piece(int(tok)).decode("utf-8", "replace")
        lp = float(logits[tok] - log_total)
        out[text] = float(np.logaddexp(out[text], lp)) if text in out else lp
    return out


def accept_token(
    ctx: NativeContext, res: SequenceResult, token: int, params: SamplingParams, row: int
) -> None:
    """Record a token sampled from batch row ``row`` and decide whether its sequence is
    finished (with ``top_logprobs``, also the row's most likely tokens)."""
    model = ctx.model
    if not params.ignore_eos and model.is_eog(token):
        res.finish_reason = "stop"
        return
    if params.top_logprobs > 0:
        piece = model.piece(token).decode("utf-8", "replace")
        res.logprobs.append({"token": piece, "top": top_logprobs(ctx, row, params.top_logprobs)})
    res.offsets.append(len(res.data))
    res.tokens.append(token)
    res.data.extend(model.piece(token))
    if params.stop:
        text = res.data.decode("utf-8", "ignore")
        cuts = [i for i in (text.find(s) for s in params.stop) if i >= 0]
        if cuts:
            res.text = text[: min(cuts)]
            res.cut = True
            res.finish_reason = "stop"
            return
    if len(res.tokens) >= params.max_tokens:
        res.finish_reason = "length"


def partial_report(results: Sequence[SequenceResult]) -> str:
    got = [len(r.tokens) for r in results]
    preview = results[0].data.decode("utf-8", "ignore")[:80] if results else ""
    return f"got {sum(got)} tokens so far over {len(results)} sequence(s) {got}; first: {preview!r}"


def sample_batch(
    ctx: NativeContext, prompt: list[int], params: SamplingParams
) -> tuple[list[SequenceResult], int]:
    """Draw ``len(params.seeds)`` continuations of ``prompt`` together.

    Returns the results and the number of prompt tokens actually evaluated. The caller
    holds ``ctx.lock`` and guarantees ``len(seeds) <= MAX_PARALLEL`` and that the prompt
    plus every sequence's tokens fit in the KV cache.
    """
    n = len(params.seeds)
    started = time.monotonic()
    evaluated = evaluate_prompt(ctx, prompt, params)
    results = [SequenceResult(seed=s) for s in params.seeds]
    samplers = Samplers(ctx, params)
    try:
        for s in range(1, n + 1):
            ctx.seq_copy(0, s)
        for i, res in enumerate(results):
            accept_token(ctx, res, samplers.sample(i, 0), params, 0)
        pos = len(prompt)
        ctx.set_embeddings(params.embed)
        while True:
            now = time.monotonic()
            rows: list[tuple[int, int, int, bool]] = []
            owners: list[int] = []
            for i, res in enumerate(results):
                needs_feed = res.fed < len(res.tokens)
                if not res.done or (params.embed and res.finish_reason == "length" and needs_feed):
                    rows.append((res.tokens[-1], pos, i + 1, True))
                    owners.append(i)
                elif not res.latency_s:
                    res.latency_s = now - started
            if not rows:
                break
            if now > params.deadline:
                raise BackendTimeout(
                    f"llama.cpp did not finish within {params.timeout_s:g} s while decoding "
                    f"({partial_report(results)}); raise timeout_s or lower max_tokens/n"
                )
            ctx.decode(rows, what=f"decoding {len(rows)} sequence(s) at position {pos}")
            for row, i in enumerate(owners):
                res = results[i]
                res.fed += 1
                if params.embed:
                    res.hidden.append(ctx.hidden(row))
                if not res.done:
                    accept_token(ctx, res, samplers.sample(i, row), params, row)
            pos += 1
    finally:
        samplers.close()
        ctx.reset_candidates()
        ctx.set_embeddings(False)
    for res in results:
        if not res.cut:
            res.text = res.data.decode("utf-8", "ignore")
    return results, evaluated
