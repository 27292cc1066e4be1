"""Build a featurizer from the recipe stored in a preference-model file.

Why: a PM is only meaningful with the exact features it was trained on; the file keeps
the recipe (backbone, pooling, bounds) and this module turns it back into a featurizer.
Backbones: any GGUF through llama.cpp (``kind = "gguf"``), or an OpenAI-compatible
``/v1/embeddings`` endpoint (``kind = "openai"``: vLLM, llama.cpp server...) for teams
that serve models, which embeds the bounded exchange as one text.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from redline.errors import BackendError, BackendUnavailable, ConfigError
from redline.harmlessness.features import GGUFFeaturizer, SpanFeaturizer, bound_context
from redline.targets.base import Conversation

DEFAULT_RECIPE: dict[str, Any] = {
    "kind": "gguf",
    "backbone": "smollm2-135m",
    "pooling": "reply_mean",
    "max_context_chars": 300,
    "max_reply_tokens": 64,
}


class EmbeddingsEndpointFeaturizer:
    """Features from an OpenAI-compatible embeddings endpoint: the bounded context and the
    reply rendered as one hh-rlhf transcript, pooled however the server pools."""

    def __init__(
        self,
        base_url: str,
        model: str,
        *,
        api_key: str | None = None,
        max_context_chars: int = 300,
        timeout: float = 60.0,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.model = model
        self.api_key = api_key
        self.max_context_chars = max_context_chars
        self.timeout = timeout
        self.id = f"openai:{self.base_url}:{model}:exchange:c{max_context_chars}"
        self.dim = 0

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        import httpx

        headers = {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}
        try:
            response = httpx.post(
                f"{self.base_url}/embeddings",
                json={"model": self.model, "input": list(texts)},
                headers=headers,
                timeout=self.timeout,
            )
            response.raise_for_status()
            data = sorted(response.json()["data"], key=lambda item: item["index"])
        except httpx.HTTPError as exc:
            raise BackendUnavailable(f"embeddings endpoint {self.base_url}: {exc}") from exc
        except (KeyError, ValueError, TypeError) as exc:
            raise BackendError(f"embeddings endpoint {self.base_url}: bad answer ({exc})") from exc
        vectors = np.asarray([item["embedding"] for item in data], dtype=np.float32)
        self.dim = int(vectors.shape[1]) if vectors.ndim == 2 else 0
        return vectors

    def embed_spans(self, contexts: Sequence[Conversation], replies: Sequence[str]) -> np.ndarray:
        texts = []
        for context, reply in zip(contexts, replies, strict=True):
            messages = bound_context(context, self.max_context_chars)
            body = "".join(
                f"\n\n{'Human' if m.role == 'human' else 'Assistant'}: {m.text}" for m in messages
            )
            texts.append(f"{body}\n\nAssistant: {reply}")
        return self.embed(texts)


def build_featurizer(recipe: dict[str, Any], *, n_threads: int | None = None) -> SpanFeaturizer:
    """The featurizer a recipe describes (see :data:`DEFAULT_RECIPE`)."""
    kind = recipe.get("kind")
    if kind == "gguf":
        return GGUFFeaturizer(
            recipe.get("backbone", "smollm2-135m"),
            pooling=recipe.get("pooling", "reply_mean"),
            max_context_chars=int(recipe.get("max_context_chars", 300)),
            max_reply_tokens=int(recipe.get("max_reply_tokens", 64)),
            n_threads=n_threads,
        )
    if kind == "openai":
        if not recipe.get("base_url") or not recipe.get("model"):
            raise ConfigError("an openai featurizer needs base_url and model")
        return EmbeddingsEndpointFeaturizer(
            recipe["base_url"],
            recipe["model"],
            api_key=recipe.get("api_key"),
            max_context_chars=int(recipe.get("max_context_chars", 300)),
        )
    raise ConfigError(f"unknown featurizer kind {kind!r}; use 'gguf' or 'openai'")


def recipe_for(featurizer: SpanFeaturizer, base: dict[str, Any]) -> dict[str, Any]:
    """The recipe plus the featurizer's id (which pins the exact model file)."""
    return {**{k: v for k, v in base.items() if k != "api_key"}, "feature_id": featurizer.id}
