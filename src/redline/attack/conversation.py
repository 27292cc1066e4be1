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
- with converters (:mod:`redline.attack.converters`) each human turn is converted before
  the target sees it; the turn is stored as the target saw it (that is what the reply
  answers and what the PM scores), and ``result.extra`` keeps the chain and the
  originals. Whoever writes the next turn (an attacker) sees the originals: it plays a
  person who writes plainly, and the converters are only the way there.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from redline.attack.results import CandidateResult, ConversationResult, TurnResult
from redline.attack.scoring import finite_or_none
from redline.errors import BackendError
from redline.targets.base import Message, Sample, Scorer, TargetModel

if TYPE_CHECKING:
    from redline.attack.converters.base import ConverterSpec

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


class _Conversion:
    """Converts each human turn with a chain and records it in ``result.extra``:
    ``converters`` (the chain's labels), ``original_turns`` (each turn as written) and
    ``converter_failures`` (``{"turn", "failure"}`` for each step that failed and was
    skipped)."""

    def __init__(self, specs: Sequence[ConverterSpec], result: ConversationResult) -> None:
        from redline.attack.converters.base import build_chain

        self.chain = build_chain(specs)
        self.extra: dict[str, Any] = {
            **(result.extra or {}),
            "converters": [label for label, _ in self.chain],
            "original_turns": [],
            "converter_failures": [],
        }
        result.extra = self.extra

    def __call__(self, human: str, index: int, seed: int) -> str:
        from redline.attack.converters.base import apply_chain

        converted = apply_chain(self.chain, human, seed=seed)
        self.extra["original_turns"].append(human)
        self.extra["converter_failures"] += [
            {"turn": index, "failure": failure} for failure in converted.failures
        ]
        return converted.text


def converse(
    target: TargetModel,
    scorer: Scorer,
    next_human: NextHuman,
    *,
    max_turns: int,
    candidates: int,
    seed: int,
    result: ConversationResult,
    converters: Sequence[ConverterSpec] = (),
) -> ConversationResult:
    """Run up to ``max_turns`` turns into ``result``; a backend failure is recorded in
    ``result.error`` (the job is retried by the next run), never raised. ``converters``
    rewrite each human turn before the target sees it (see the module's notes)."""
    started = time.perf_counter()
    conversation: list[Message] = []  # what the target sees
    written: list[Message] = []  # the same with the human turns as written
    result.scored_by = scorer.identity
    try:
        convert = _Conversion(converters, result) if converters else None
        for index in range(max_turns):
            human = next_human(written, index)
            if human is None or not human.strip():
                break
            turn_seed = (seed + 7919 * index) % 2**31
            written.append(Message("human", human))
            if convert is not None:
                human = convert(human, index, turn_seed)
            conversation.append(Message("human", human))
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
            written.append(conversation[-1])
        if result.task_description and result.task_description.strip():
            td = scorer.score_batch((), [result.task_description])[0]
            result.task_description_harmlessness = finite_or_none(td)
    except BackendError as exc:
        result.error = f"{type(exc).__name__}: {exc}"
    result.seconds = time.perf_counter() - started
    return result
