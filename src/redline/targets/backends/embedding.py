"""Mean-pooled final-layer hidden states over a span of tokens, many sequences per decode.

Why here: the harmlessness preference model and the attack map need features of texts and
of replies in context. A "job" is (prefix tokens, span tokens): the prefix is evaluated
without outputs, the span with hidden states on, and the job's feature is the mean of the
span's states. ``embed(texts)`` is a job with the BOS token as prefix; ``embed_spans`` uses
the rendered prompt as prefix and the reply as span, the same states ``generate(...,
embed=True)`` averages while decoding. Up to MAX_PARALLEL jobs share one group of
sequences; a prefix common to the whole group (an HHH prompt) is evaluated once and shared.
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

import numpy as np

from redline.errors import BackendTimeout
from redline.targets.backends.native import MAX_PARALLEL, N_BATCH, NativeContext

#: Hidden states on means logits for every row too; cap the rows so that buffer stays small
#: for large vocabularies (Gemma 3: 262k tokens x 256 rows x 4 bytes = 256 MiB).
MAX_OUTPUT_FLOATS = 1 << 26


@dataclass(frozen=True)
class SpanJob:
    prefix: list[int]
    span: list[int]


def _common_prefix_all(lists: Sequence[list[int]]) -> int:
    if not lists:
        return 0
    shortest = min(len(x) for x in lists)
    for i in range(shortest):
        tok = lists[0][i]
        if any(x[i] != tok for x in lists):
            return i
    return shortest


def plan_groups(jobs: Sequence[SpanJob], budget: int) -> Iterator[list[int]]:
    """Indices of jobs per group: at most MAX_PARALLEL jobs and ``budget`` KV cells."""
    group: list[int] = []
    used = 0
    for i, job in enumerate(jobs):
        need = len(job.prefix) + len(job.span)
        if group and (len(group) == MAX_PARALLEL or used + need > budget):
            yield group
            group, used = [], 0
        group.append(i)
        used += need
    if group:
        yield group


def _rows(
    streams: Sequence[tuple[int, int, list[int]]], per_decode: int
) -> Iterator[list[tuple[int, int, int]]]:
    """(seq, first position, tokens) streams -> decode-sized lists of (token, pos, seq)."""
    flat = [(tok, start + j, seq) for seq, start, tokens in streams for j, tok in enumerate(tokens)]
    for i in range(0, len(flat), per_decode):
        yield flat[i : i + per_decode]


def mean_states(
    ctx: NativeContext,
    jobs: Sequence[SpanJob],
    group: Sequence[int],
    *,
    per_decode: int,
    deadline: float,
    timeout_s: float,
) -> dict[int, np.ndarray]:
    """Evaluate one group of jobs (caller holds ``ctx.lock``); job index -> mean state.

    Jobs with an empty span get a zero vector.
    """
    n_embd = ctx.model.n_embd
    per_decode = max(1, min(per_decode, N_BATCH, MAX_OUTPUT_FLOATS // ctx.model.n_vocab))
    members = [jobs[i] for i in group]
    shared = _common_prefix_all([job.prefix for job in members])
    sums = {i: np.zeros(n_embd, dtype=np.float64) for i in group}
    counts = dict.fromkeys(group, 0)

    def check(what: str) -> None:
        if time.monotonic() > deadline:
            raise BackendTimeout(
                f"llama.cpp did not finish computing hidden states within {timeout_s:g} s "
                f"({what}); pass a larger timeout_s or fewer texts per call"
            )

    ctx.reset_candidates()
    try:
        ctx.set_embeddings(False)
        if shared:
            for rows in _rows([(1, 0, members[0].prefix[:shared])], N_BATCH):
                check("shared prefix")
                ctx.decode([(t, p, s, False) for t, p, s in rows], what="evaluating a prefix")
            for k in range(2, len(members) + 1):
                ctx.seq_copy(1, k)
        rest = [(k + 1, shared, job.prefix[shared:]) for k, job in enumerate(members)]
        for rows in _rows(rest, N_BATCH):
            check("prefixes")
            ctx.decode([(t, p, s, False) for t, p, s in rows], what="evaluating prefixes")
        ctx.set_embeddings(True)
        spans = [(k + 1, len(job.prefix), job.span) for k, job in enumerate(members)]
        for rows in _rows(spans, per_decode):
            check(f"spans of {len(members)} text(s)")
            ctx.decode([(t, p, s, True) for t, p, s in rows], what="evaluating spans")
            for row, (_, _, seq) in enumerate(rows):
                job_index = group[seq - 1]
                sums[job_index] += ctx.hidden(row)
                counts[job_index] += 1
    finally:
        ctx.set_embeddings(False)
        ctx.reset_candidates()
    return {
        i: (sums[i] / counts[i]).astype(np.float32) if counts[i] else np.zeros(n_embd, np.float32)
        for i in group
    }
