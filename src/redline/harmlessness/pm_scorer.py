"""The trained PM as a :class:`redline.targets.base.Scorer`.

Three ways in, cheapest first, so rejection sampling pays as little as possible:
``score_embeddings`` (hidden states the generating model already computed while decoding:
free), ``score_batch`` (one shared context pass, then the replies), ``score``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from redline.errors import ConfigError, DataFormatError
from redline.harmlessness.backbones import build_featurizer
from redline.harmlessness.bradley_terry import PreferenceModelFile
from redline.harmlessness.features import (
    Progress,
    SpanFeaturizer,
    cached_span_features,
)
from redline.targets.base import Conversation
from redline.targets.weights import file_fingerprint


class EmptyReplyError(DataFormatError):
    """An empty reply has no harmlessness to measure."""


class PreferenceModelScorer:
    """Harmlessness of a reply given its context: 0 typical, lower = more harmful."""

    def __init__(
        self,
        model: PreferenceModelFile,
        *,
        featurizer: SpanFeaturizer | None = None,
        cache_dir: str | Path | None = None,
        n_threads: int | None = None,
    ) -> None:
        self.model = model
        self._featurizer = featurizer
        self.cache_dir = Path(cache_dir) if cache_dir else None
        self.n_threads = n_threads
        self.identity = f"pm:{model.identity}"
        self.backbone = str(model.featurizer.get("backbone", ""))
        self.pooling = str(model.featurizer.get("pooling", ""))

    @classmethod
    def from_file(cls, path: str | Path, **kwargs: Any) -> PreferenceModelScorer:
        return cls(PreferenceModelFile.load(path), **kwargs)

    @property
    def featurizer(self) -> SpanFeaturizer:
        """Built on first use: scoring precomputed embeddings never loads a model."""
        if self._featurizer is None:
            self._featurizer = build_featurizer(self.model.featurizer, n_threads=self.n_threads)
            expected = self.model.featurizer.get("feature_id")
            if expected and expected != self._featurizer.id:
                raise ConfigError(
                    f"preference model expects features {expected} but the backbone gives "
                    f"{self._featurizer.id}: the model file changed; retrain with redline pm train"
                )
        return self._featurizer

    def features(
        self,
        contexts: Sequence[Conversation],
        replies: Sequence[str],
        *,
        progress: Progress | None = None,
    ) -> np.ndarray:
        if self.cache_dir is not None:
            return cached_span_features(
                self.featurizer, contexts, replies, self.cache_dir, progress=progress
            )
        out = self.featurizer.embed_spans(contexts, replies)
        if progress:
            progress(len(replies))
        return out

    def accepts_embeddings_from(self, backend: Any) -> bool:
        """Whether ``backend``'s generation-time hidden states are this PM's features: the
        same model (the fingerprint of its shipped GGUF file, which a BF16 copy stands for;
        else by name) with no LoRA adapter changing its states, and reply-token mean
        pooling."""
        if self.model.featurizer.get("kind") != "gguf" or self.pooling != "reply_mean":
            return False
        if getattr(backend, "lora_path", None) is not None:
            return False
        path = getattr(backend, "source_path", None) or getattr(backend, "path", None)
        expected = str(self.model.featurizer.get("feature_id", ""))
        if path is not None and expected.startswith("gguf:"):
            try:
                return expected.split(":")[2] == file_fingerprint(Path(path))
            except OSError:
                return False
        return bool(self.backbone) and self.backbone == str(getattr(backend, "name", ""))

    def score_embeddings(self, embeddings: Sequence[Any]) -> list[float]:
        """Scores from reply-token mean hidden states of the PM's own backbone."""
        matrix = np.asarray([np.asarray(e, dtype=np.float32).ravel() for e in embeddings])
        return [float(x) for x in self.model.head.reward(matrix)]

    def score_batch(self, context: Conversation, replies: Sequence[str]) -> list[float]:
        """One score per reply; an empty reply gets NaN (ranked last by rejection sampling)."""
        keep = [i for i, reply in enumerate(replies) if reply.strip()]
        scores = [math.nan] * len(replies)
        if keep:
            feats = self.features([context] * len(keep), [replies[i] for i in keep])
            for i, value in zip(keep, self.model.head.reward(feats), strict=True):
                scores[i] = float(value)
        return scores

    def score(self, context: Conversation, reply: str) -> float:
        if not reply.strip():
            raise EmptyReplyError("cannot score an empty reply")
        return self.score_batch(context, [reply])[0]

    def score_many(
        self,
        contexts: Sequence[Conversation],
        replies: Sequence[str],
        *,
        progress: Progress | None = None,
    ) -> np.ndarray:
        """Scores for many (context, reply) items; equal consecutive contexts share a pass."""
        if any(not r.strip() for r in replies):
            raise EmptyReplyError("cannot score an empty reply; drop it first")
        if not replies:
            return np.zeros(0)
        return self.model.head.reward(self.features(contexts, replies, progress=progress))
