"""What one more sequence costs per decoding step: raw llama_decode time by batch width.

For each weights file (the shipped GGUF and its copies in --formats, plus any --gguf) and each
flash-attention mode, evaluate a 160-token prompt, copy it to ``rows`` sequences and time
64 decoding steps of ``rows`` tokens each (best of --repeats). Prints JSON lines
{"bench": "decode_width", "weights", "flash_attn", "rows", "wall_s", "tok_s",
"over_one_row"}; plus each file's 480-token prompt rate (rows = 480).

Why: the issue's n=2 <= 1.3 x n=1 target assumes a second row is nearly free. It is only
if the matmul kernels reuse each loaded weight for both rows; ``over_one_row`` at rows=2
shows how far llama.cpp's CPU kernels are from that on this machine.

Which CPU kernels run is Redline's choice for this CPU; ``REDLINE_LLAMA_CPU=haswell``
measures the AVX2 kernels an AMD EPYC runs (the variant is printed with every line).

  python benchmarks/decode_width_bench.py [--threads 2] [--formats shipped q8_0] [--gguf x.gguf]
"""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from pathlib import Path

import llama_cpp as llc

from redline.config import LLAMA_WEIGHTS, load_settings
from redline.targets.backends.native import (
    ContextConfig,
    NativeContext,
    NativeModel,
    loaded_variant,
)
from redline.targets.catalogue import resolve_model

PROMPT = list(range(100, 260))
STEPS = 64


def decode_steps(ctx: NativeContext, rows: int) -> float:
    ctx.clear()
    ctx.decode([(t, i, 0, i == len(PROMPT) - 1) for i, t in enumerate(PROMPT)], what="prompt")
    for seq in range(1, rows + 1):
        ctx.seq_copy(0, seq)
    started = time.perf_counter()
    for step in range(STEPS):
        batch = [(500 + step, len(PROMPT) + step, seq, True) for seq in range(1, rows + 1)]
        ctx.decode(batch, what="decode")
    return time.perf_counter() - started


def prompt_rate(ctx: NativeContext) -> float:
    tokens = (PROMPT * 3)[:480]
    ctx.clear()
    started = time.perf_counter()
    ctx.decode([(t, i, 0, i == len(tokens) - 1) for i, t in enumerate(tokens)], what="prompt")
    return len(tokens) / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="smollm2-135m")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--gguf", nargs="*", default=[], type=Path, help="more files to time")
    parser.add_argument(
        "--formats", nargs="*", default=["shipped", "bf16"], choices=LLAMA_WEIGHTS[1:]
    )
    parser.add_argument("--flash-attn", choices=["both", "on", "off"], default="both")
    args = parser.parse_args()
    settings = load_settings()
    files = {
        fmt: resolve_model(args.model, replace(settings, llama_weights=fmt)).path
        for fmt in args.formats
    }
    files.update({p.name: p for p in args.gguf})
    modes = {
        "both": (llc.LLAMA_FLASH_ATTN_TYPE_DISABLED, llc.LLAMA_FLASH_ATTN_TYPE_ENABLED),
        "on": (llc.LLAMA_FLASH_ATTN_TYPE_ENABLED,),
        "off": (llc.LLAMA_FLASH_ATTN_TYPE_DISABLED,),
    }[args.flash_attn]
    for label, path in files.items():
        model = NativeModel(path)
        for fa in modes:
            ctx = NativeContext(model, ContextConfig(2048, args.threads, fa))
            decode_steps(ctx, 1)  # warm up
            base = 0.0
            line = {"bench": "decode_width", "weights": label, "file": path.name}
            line["variant"] = loaded_variant()
            line["flash_attn"] = bool(fa)
            rate = max(prompt_rate(ctx) for _ in range(args.repeats))
            print(json.dumps({**line, "rows": 480, "tok_s": round(rate, 1)}), flush=True)
            for rows in (1, 2, 4, 16):
                wall = min(decode_steps(ctx, rows) for _ in range(args.repeats))
                base = base or wall
                print(
                    json.dumps(
                        {
                            **line,
                            "rows": rows,
                            "wall_s": round(wall, 4),
                            "tok_s": round(rows * STEPS / wall, 1),
                            "over_one_row": round(wall / base, 3),
                        }
                    ),
                    flush=True,
                )
            ctx.close()
        model.close()


if __name__ == "__main__":
    main()
