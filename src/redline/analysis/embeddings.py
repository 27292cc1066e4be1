"""Text embeddings for the attack map: a function from texts to a matrix (one row a text).

Two choices. ``tfidf``: word TF-IDF reduced by truncated SVD (latent semantic analysis);
seconds for the full 39k transcripts, the default. ``lm``: mean-pooled final-layer hidden
states of a small GGUF model through llama.cpp, as the paper did with its own LM (layer
48 of the 52B model); about 300 tokens/s on 2 cores, so it suits campaign-sized sets and
is cached on disk by content hash so a second report costs nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from scipy import sparse

if TYPE_CHECKING:
    from redline.config import Settings

Embedder = Callable[[Sequence[str]], np.ndarray]
Progress = Callable[[int], None]


class TfidfSvdEmbedder:
    """Word TF-IDF (sublinear tf, English stop words) -> truncated SVD -> unit rows.

    The fitted TF-IDF matrix and vocabulary stay on the object (``tfidf_``,
    ``vocabulary_``) so the attack map can label clusters without vectorizing twice.
    """

    name = "tfidf-svd"

    def __init__(self, dim: int = 48, *, seed: int = 0, max_features: int = 50_000) -> None:
        self.dim = dim
        self.seed = seed
        self.max_features = max_features
        self.tfidf_: sparse.csr_matrix | None = None
        self.vocabulary_: np.ndarray | None = None

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        from sklearn.decomposition import TruncatedSVD
        from sklearn.feature_extraction.text import TfidfVectorizer

        vectorizer = TfidfVectorizer(
            sublinear_tf=True,
            stop_words="english",
            min_df=2 if len(texts) >= 50 else 1,
            max_df=0.9,
            max_features=self.max_features,
            dtype=np.float32,
        )
        try:
            matrix = vectorizer.fit_transform(texts)
        except ValueError:  # no words left (empty or stop-word-only texts)
            matrix = sparse.csr_matrix((len(texts), 1), dtype=np.float32)
            self.vocabulary_ = np.array(["(none)"])
        else:
            self.vocabulary_ = vectorizer.get_feature_names_out()
        self.tfidf_ = matrix.tocsr()
        dim = min(self.dim, max(1, matrix.shape[1] - 1), max(1, len(texts) - 1))
        if matrix.shape[1] <= 1 or dim < 2:
            dense = matrix.toarray()
        else:
            svd = TruncatedSVD(dim, random_state=self.seed, n_iter=4)
            dense = svd.fit_transform(matrix)
        return unit_rows(np.asarray(dense, dtype=np.float32))


def unit_rows(matrix: np.ndarray) -> np.ndarray:
    """Rows scaled to length 1 (zero rows stay zero), so Euclidean ~ cosine distance."""
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    return matrix / np.where(norms > 0, norms, 1.0)


class LMEmbedder:
    """Mean-pooled hidden states of a GGUF model (llama.cpp), cached by content hash.

    ``throughput`` after a call: texts and characters per second of the texts that were
    actually computed (cache hits excluded), for the report's methods section.
    ``settings`` locate the model and its runtime weights (``--data-dir``,
    ``--llama-weights``, threads) as for every other llama.cpp model; None reads them
    from the environment and ``redline.toml``.
    """

    def __init__(
        self,
        model: str = "smollm2-135m",
        *,
        cache_dir: Path,
        progress: Progress | None = None,
        max_chars: int = 2000,
        settings: Settings | None = None,
    ) -> None:
        self.model = model
        self.settings = settings
        self.name = f"lm:{model}"
        self.cache_dir = Path(cache_dir)
        self.progress = progress
        self.max_chars = max_chars
        self.throughput: dict[str, float] = {}

    def __call__(self, texts: Sequence[str]) -> np.ndarray:
        import time

        from redline.harmlessness.features import cached_embeddings
        from redline.targets.backends.llamacpp import LlamaCppBackend

        backend = LlamaCppBackend(self.model, settings=self.settings)
        clipped = [t[: self.max_chars] for t in texts]
        computed: list[int] = []

        class _Timed:
            """Wraps the backend to time only the texts the cache did not have."""

            name = backend.name

            @staticmethod
            def embed(batch: Sequence[str]) -> np.ndarray:
                computed.append(sum(len(t) for t in batch))
                computed.append(-len(batch))
                return backend.embed(batch)

        start = time.perf_counter()
        matrix = cached_embeddings(_Timed(), clipped, self.cache_dir, progress=self.progress)
        seconds = time.perf_counter() - start
        chars = sum(c for c in computed if c > 0)
        n = -sum(c for c in computed if c < 0)
        self.throughput = {
            "texts_computed": float(n),
            "texts_cached": float(len(texts) - n),
            "seconds": seconds,
            "texts_per_s": n / seconds if n and seconds else float("nan"),
            "chars_per_s": chars / seconds if n and seconds else float("nan"),
        }
        return unit_rows(np.asarray(matrix, dtype=np.float32))
