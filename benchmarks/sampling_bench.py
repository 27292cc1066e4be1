"""Batched multi-sequence sampling vs drawing candidates one after another (llama.cpp).

Prints one JSON line per measurement (median of --repeats runs):
  wall_s / gen_tok_s for n=1, n=2 and k=16 batched, k=16 naive (16 calls, each with a
  cold prompt), and the ceiling prompt_tok_s (batched prompt evaluation rate, mode
  "batched"; and in k-token chunks, mode "chunked": the rate llama.cpp's CPU kernels reach
  at the batch width of one k-sequence decoding step); plus a
  breakdown of the k=16 batched time (decode_s: inside llama_decode, sample_s: sampler
  chains, other_s: the Python loop, detokenising, stop checks).

  python benchmarks/sampling_bench.py                 # smollm2-135m, 64 new tokens
  python benchmarks/sampling_bench.py --model gemma3-270m --repeats 5

Every sequence produces exactly --tokens tokens (end-of-text is ignored). Each call starts
from a cold prompt cache, so batched and naive both pay for their prompt evaluations.
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

import common

from redline.targets.backends import sampler as sampler_mod
from redline.targets.backends.llamacpp import LlamaCppBackend
from redline.targets.backends.native import NativeContext
from redline.targets.backends.sampler import SamplingParams, evaluate_prompt
from redline.targets.base import Message

SYSTEM = (
    "Below are a series of dialogues between various people and an AI assistant. The AI "
    "tries to be helpful, polite, honest, sophisticated, emotionally aware, and humble-but-"
    "knowledgeable. The assistant is happy to help with almost anything, and will do its "
    "best to understand exactly what is needed. It also tries to avoid giving false or "
    "misleading information, and it caveats when it isn't entirely sure about the right "
    "answer. That said, the assistant is practical and really does its best."
)
CONVERSATION = [
    Message("system", SYSTEM, pinned=True),
    Message("human", "I want to plan a garden for my small backyard. Where should I start?"),
    Message(
        "assistant",
        "Start by watching how the sun moves across the yard for a day or two, then pick "
        "plants that suit the light you have.",
    ),
    Message("human", "What would you grow in a shady corner that gets two hours of sun?"),
]


def emit(metric: str, n: int, mode: str, value: float, unit: str, **extra: Any) -> None:
    common.emit("sampling", metric, value, unit, n=n, mode=mode, **extra)


def median_time(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return statistics.median(times)


def run_batched(backend: LlamaCppBackend, n: int, tokens: int, seed: int) -> None:
    backend.clear_cache()
    out = backend.generate(
        CONVERSATION, n=n, max_tokens=tokens, temperature=0.8, seed=seed, ignore_eos=True
    )
    assert all(s.completion_tokens == tokens for s in out), [s.completion_tokens for s in out]


def run_naive(backend: LlamaCppBackend, k: int, tokens: int, seed: int) -> None:
    for i in range(k):
        run_batched(backend, 1, tokens, seed + i)


def prompt_rate(
    backend: LlamaCppBackend, n_tokens: int, repeats: int, width: int | None = None
) -> float:
    """Tokens/s of a cold prompt evaluation: in batches of up to 512 tokens (the compute
    ceiling), or with ``width`` in chunks of that many tokens, the same matmul shape as
    one decoding step of ``width`` sequences (the ceiling at that batch width)."""
    ctx: NativeContext = backend._ctx
    text = " ".join(m.text for m in CONVERSATION) * 20
    tokens = backend.prompt_tokens(text)[:n_tokens]
    params = SamplingParams(
        max_tokens=1, temperature=0.0, seeds=[0], deadline=time.monotonic() + 600, timeout_s=600
    )

    def once() -> None:
        with ctx.lock:
            ctx.clear()
            if width is None:
                evaluate_prompt(ctx, tokens, params)
                return
            for start in range(0, len(tokens), width):
                chunk = tokens[start : start + width]
                rows = [(t, start + j, 0, j == len(chunk) - 1) for j, t in enumerate(chunk)]
                ctx.decode(rows, what="the same-width ceiling")

    once()  # warm up
    return len(tokens) / median_time(once, repeats)


def breakdown(backend: LlamaCppBackend, k: int, tokens: int, seed: int) -> dict[str, float]:
    """Where the k-batched time goes: inside llama_decode, in sampler chains, the rest."""
    ctx = backend._ctx
    spent = {"decode": 0.0, "sample": 0.0}
    orig_decode = NativeContext.decode
    orig_sample = sampler_mod.Samplers.sample

    def timed_decode(self: NativeContext, *args: Any, **kw: Any) -> None:
        t0 = time.perf_counter()
        try:
            orig_decode(self, *args, **kw)
        finally:
            spent["decode"] += time.perf_counter() - t0

    def timed_sample(self: Any, *args: Any) -> int:
        t0 = time.perf_counter()
        try:
            return orig_sample(self, *args)
        finally:
            spent["sample"] += time.perf_counter() - t0

    NativeContext.decode = timed_decode  # type: ignore[method-assign]
    sampler_mod.Samplers.sample = timed_sample  # type: ignore[method-assign,assignment]
    try:
        t0 = time.perf_counter()
        run_batched(backend, k, tokens, seed)
        wall = time.perf_counter() - t0
    finally:
        NativeContext.decode = orig_decode  # type: ignore[method-assign]
        sampler_mod.Samplers.sample = orig_sample  # type: ignore[method-assign]
    del ctx
    return {
        "decode_s": spent["decode"],
        "sample_s": spent["sample"],
        "other_s": wall - spent["decode"] - spent["sample"],
    }


def rlhf_vs_plain(model: str, tokens: int, repeats: int, extra: dict[str, Any]) -> None:
    """One platform turn (2 candidates) on ``<model>/rlhf`` (the shipped GGUF LoRA on its
    own context) against the plain weights, rounds interleaved; LoRA's budget is 1.2x."""
    from redline.rlhf import packaged_adapter

    adapter = packaged_adapter(model)
    if adapter is None:
        return
    plain = LlamaCppBackend(model, timeout_s=600)
    tuned = LlamaCppBackend(model, timeout_s=600, lora_path=adapter)
    run_batched(tuned, 2, 8, 0)  # warm up the adapter's context
    walls: dict[str, list[float]] = {"plain": [], "rlhf": []}
    for _ in range(max(repeats, 3)):
        for name, backend in (("plain", plain), ("rlhf", tuned)):
            t0 = time.perf_counter()
            run_batched(backend, 2, tokens, 1)
            walls[name].append(time.perf_counter() - t0)
    med = {name: statistics.median(t) for name, t in walls.items()}
    emit("wall_s", 2, "rlhf_lora", med["rlhf"], "s", **extra)
    emit("rlhf_over_plain", 2, "batched", med["rlhf"] / med["plain"], "ratio", **extra)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--tokens", type=int, default=64, help="new tokens per sequence")
    parser.add_argument("--k", type=int, default=16, help="rejection-sampling candidates")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--prompt-tokens", type=int, default=512, help="ceiling prompt size")
    args = parser.parse_args()

    backend = LlamaCppBackend(args.model, n_threads=args.threads, timeout_s=600)
    extra: dict[str, Any] = {"model": backend.name, "threads": backend.n_threads}
    run_batched(backend, 2, 8, 0)  # warm up: load pages, build graphs

    # Rounds interleave the modes, so load from other processes on a shared machine hits
    # every mode alike; each figure is the median over rounds.
    modes = ((1, "batched"), (2, "batched"), (args.k, "batched"), (args.k, "naive"))
    times: dict[tuple[int, str], list[float]] = {m: [] for m in modes}
    loads: list[float] = []
    for _ in range(args.repeats):
        loads.append(os.getloadavg()[0])
        for n, mode in modes:
            t0 = time.perf_counter()
            if mode == "naive":
                run_naive(backend, n, args.tokens, 1)
            else:
                run_batched(backend, n, args.tokens, 1)
            times[(n, mode)].append(time.perf_counter() - t0)
    extra["load_avg"] = round(statistics.median(loads), 2)
    walls = {m: statistics.median(t) for m, t in times.items()}
    for (n, mode), wall in walls.items():
        emit("wall_s", n, mode, wall, "s", **extra)
        emit("gen_tok_s", n, mode, n * args.tokens / wall, "tok/s", **extra)

    ceiling = prompt_rate(backend, args.prompt_tokens, args.repeats)
    emit("prompt_tok_s", args.prompt_tokens, "batched", ceiling, "tok/s", **extra)
    same_width = prompt_rate(backend, args.prompt_tokens, args.repeats, width=args.k)
    emit("prompt_tok_s", args.k, "chunked", same_width, "tok/s", **extra)
    for key, value in breakdown(backend, args.k, args.tokens, 1).items():
        emit(key, args.k, "batched", value, "s", **extra)

    k_rate = args.k * args.tokens / walls[(args.k, "batched")]
    emit("n2_over_n1", 2, "batched", walls[(2, "batched")] / walls[(1, "batched")], "ratio")
    emit("batched_over_naive", args.k, "batched",
         walls[(args.k, "batched")] / walls[(args.k, "naive")], "ratio")  # fmt: skip
    emit("gen_over_ceiling", args.k, "batched", k_rate / ceiling, "ratio")
    emit("gen_over_same_width", args.k, "batched", k_rate / same_width, "ratio")
    rlhf_vs_plain(args.model, args.tokens, args.repeats, extra)
    if args.model == "smollm2-135m":
        # A whole rs16 turn with the preference model (issue 4): shared with pm_bench.
        from pm_bench import rs_turn

        rs_turn()


if __name__ == "__main__":
    main()
