"""Rejection sampling: K samples from the HHH-prompted model, the ``n`` least harmful shown.

Why apart from the defence class: ranking is used on its own (the RLHF evaluation and
benchmarks rank replies with the same rules), and the scoring path (hidden states the
backend already computed, else one batch call) depends only on abilities the
:class:`~redline.targets.base.Backend` and :class:`~redline.targets.base.Scorer`
protocols declare, never on probing.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence

from redline.targets.base import Backend, Conversation, Sample, Scorer, TargetInfo
from redline.targets.defences.prompted import PromptedTarget
from redline.targets.defences.prompts import FewShotPrompt, load_prompt
from redline.targets.progress import report as report_progress

DEFAULT_K = 16

#: Scorers run models of their own (the PM's llama.cpp context), which are not safe to call
#: from two threads at once; with cross-request batching, two rs turns may finish together.
_SCORING = threading.Lock()


def embeddings_usable(scorer: Scorer, backend: Backend) -> bool:
    """Whether the scorer can score the hidden states this backend returns while sampling:
    the backend must return them and the scorer must accept that model's states (hidden
    states are only comparable with a scorer's features when they come from its model)."""
    return backend.supports_embeddings and scorer.accepts_embeddings_from(backend)


def score_samples(context: Conversation, samples: Sequence[Sample], scorer: Scorer) -> list[float]:
    """Harmlessness of each sample given the red-team ``context``, the cheapest way: the
    hidden-state embeddings the backend already computed, else one batch call."""
    embeddings = [s.meta.get("embedding") for s in samples]
    if embeddings and all(e is not None for e in embeddings):
        scores = list(scorer.score_embeddings(embeddings))  # arithmetic on arrays: thread-safe
    else:
        with _SCORING:
            scores = list(scorer.score_batch(context, [s.text for s in samples]))
    if len(scores) != len(samples):
        raise ValueError(f"the scorer returned {len(scores)} scores for {len(samples)} replies")
    return [float(s) for s in scores]


def rank_by_harmlessness(
    context: Conversation, samples: Sequence[Sample], scorer: Scorer, n: int
) -> list[Sample]:
    """The ``n`` highest-scoring (least harmful) samples, best first; each sample's meta
    gets ``score``, ``rank`` (1 = least harmful of all k) and ``k``. Ties keep sampling
    order; a NaN score ranks last. Embeddings are dropped from meta (large, not JSON)."""
    scores = score_samples(context, samples, scorer)
    order = sorted(
        range(len(samples)),
        key=lambda i: (math.isnan(scores[i]), -scores[i] if not math.isnan(scores[i]) else 0, i),
    )
    ranked = []
    for rank, index in enumerate(order, start=1):
        sample = samples[index]
        sample.meta.pop("embedding", None)
        sample.meta.update(score=scores[index], rank=rank, k=len(samples))
        ranked.append(sample)
    return ranked[:n]


class RejectionSamplingTarget:
    """``rsK``: K samples from the HHH-prompted model, the ``n`` least harmful shown.

    One batched ``generate(n=k)`` call; when the scorer can score hidden states of this
    very model and the backend can return them (:func:`embeddings_usable`), scoring
    costs no second forward pass.
    """

    def __init__(
        self,
        info: TargetInfo,
        backend: Backend,
        scorer: Scorer,
        *,
        k: int = DEFAULT_K,
        prompt: FewShotPrompt | None = None,
        max_tokens: int = 128,
        temperature: float = 0.8,
    ) -> None:
        if k < 1:
            raise ValueError("k must be at least 1")
        self.info = info
        self.k = k
        self.scorer = scorer
        self.prompted = PromptedTarget(
            info,
            backend,
            prompt or load_prompt("hhh"),
            max_tokens=max_tokens,
            temperature=temperature,
        )
        self._embed = embeddings_usable(scorer, backend)

    @property
    def backend(self) -> Backend:
        return self.prompted.backend

    def reply(
        self, conversation: Conversation, n: int = 2, seed: int | None = None
    ) -> list[Sample]:
        if n > self.k:
            raise ValueError(f"cannot return {n} of {self.k} samples; raise k")
        samples = self.backend.generate(
            self.prompted.messages(conversation),
            n=self.k,
            max_tokens=self.prompted.max_tokens,
            temperature=self.prompted.temperature,
            seed=seed,
            embed=self._embed,
        )
        for sample in samples:
            sample.meta.setdefault("defence", self.info.defence)
        report_progress("choosing", len(samples), len(samples))
        return rank_by_harmlessness(conversation, samples, self.scorer, n)
