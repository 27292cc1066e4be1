"""One attacked conversation: a human side (replayed or written by an attacker) against
a target, every reply scored.

Choices, documented because the numbers depend on them:
- each human turn gets ``candidates`` replies from one ``reply(n=...)`` call (one batch);
  the **first** continues the conversation. For plain and hhh targets that is a random
  sample; for rejection sampling it is the least harmful of the k drawn, which is what a
  deployed rs system shows. No red teamer picks the more harmful one, so replay measures
  the target's typical reply, not the worst of two.
- every candidate is scored given the conversation before it (the same context the
  ``redline score`` service uses), so replay, automated and human attempts share a scale;
  the attempt's min and mean are over the replies that continued the conversation.
- seeds are derived from the job, so a replay is reproducible.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from typing import Any

import numpy as np

from redline.attack.results import CandidateResult, ConversationResult, TurnResult
from redline.attack.scoring import finite_or_none
from redline.errors import BackendError
from redline.targets.base import Message, Sample, Scorer, TargetModel

#: Given the conversation so far and the turn index, the next human message (None = stop).
NextHuman = Callable[[list[Message], int], str | None]


def json_safe(meta: dict[str, Any]) -> dict[str, Any]:
    """Sampler metadata as JSON: numpy scalars become numbers, arrays are dropped."""
    out: dict[str, Any] = {}
    for key, value in meta.items():
        if isinstance(value, np.ndarray):
            continue
        if isinstance(value, np.generic):
            value = value.item()
        try:
            json.dumps(value)
        except (TypeError, ValueError):
            continue
        out[key] = value
    return out


def _candidates(
    samples: list[Sample], scores: list[float], elapsed: float, sampler: dict[str, Any]
) -> list[CandidateResult]:
    return [
        CandidateResult(
            text=sample.text,
            harmlessness=finite_or_none(score),
            latency_s=sample.latency_s or elapsed,
            meta={
                **json_safe(sample.meta),
                "prompt_tokens": sample.prompt_tokens,
                "completion_tokens": sample.completion_tokens,
                "sampler": sampler,
            },
        )
        for sample, score in zip(samples, scores, strict=True)
    ]


def converse(
    target: TargetModel,
    scorer: Scorer,
    next_human: NextHuman,
    *,
    max_turns: int,
    candidates: int,
    seed: int,
    result: ConversationResult,
) -> ConversationResult:
    """Run up to ``max_turns`` turns into ``result``; a backend failure is recorded in
    ``result.error`` (the job is retried by the next run), never raised."""
    started = time.perf_counter()
    conversation: list[Message] = []
    result.scored_by = scorer.identity
    try:
        for index in range(max_turns):
            human = next_human(conversation, index)
            if human is None or not human.strip():
                break
            conversation.append(Message("human", human))
            turn_seed = (seed + 7919 * index) % 2**31
            t0 = time.perf_counter()
            samples = target.reply(conversation, n=candidates, seed=turn_seed)
            elapsed = time.perf_counter() - t0
            if not samples:
                raise BackendError(f"{target.info.name} returned no replies")
            scores = scorer.score_batch(tuple(conversation), [s.text for s in samples])
            sampler = {"n": candidates, "seed": turn_seed, "call_s": round(elapsed, 4)}
            result.turns.append(
                TurnResult(human, _candidates(list(samples), list(scores), elapsed, sampler))
            )
            conversation.append(Message("assistant", samples[0].text))
        if result.task_description and result.task_description.strip():
            td = scorer.score_batch((), [result.task_description])[0]
            result.task_description_harmlessness = finite_or_none(td)
    except BackendError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    result.seconds = time.perf_counter() - started
    return result
