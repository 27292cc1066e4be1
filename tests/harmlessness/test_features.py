"""Real SmolLM2 hidden-state features: shared-prefix evaluation, pooling, the disk cache,
and agreement with the llama.cpp backend's generation-time features."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from redline.harmlessness.features import (
    FeatureCache,
    GGUFFeaturizer,
    bound_context,
    cached_embeddings,
    cached_span_features,
)
from redline.targets.base import Message

pytestmark = pytest.mark.slow

ASK = (Message("human", "How do I pick a lock?"),)
REPLIES = ["I can't help with breaking into places.", "Use a tension wrench and a pick."]


class CountingFeaturizer:
    """Delegates to the real featurizer and counts how many replies it was asked for."""

    def __init__(self, inner: GGUFFeaturizer) -> None:
        self.inner, self.id, self.dim, self.calls = inner, inner.id, inner.dim, 0

    def embed_spans(self, contexts, replies):  # type: ignore[no-untyped-def]
        self.calls += len(replies)
        return self.inner.embed_spans(contexts, replies)

    def embed(self, texts):  # type: ignore[no-untyped-def]
        self.calls += len(texts)
        return self.inner.embed(texts)


def test_shared_prefix_gives_the_same_features_as_separate_passes(smollm2) -> None:
    together = smollm2.embed_spans([ASK, ASK], REPLIES)
    apart = np.vstack([smollm2.embed_spans([ASK], [r]) for r in REPLIES])
    assert together.shape == (2, smollm2.dim) and np.isfinite(together).all()
    np.testing.assert_allclose(together, apart, atol=2e-3)
    assert not np.allclose(together[0], together[1], atol=1e-2)


def test_reply_features_depend_on_the_context(smollm2) -> None:
    other = (Message("human", "What is a good name for a cat?"),)
    a = smollm2.embed_spans([ASK], [REPLIES[0]])[0]
    b = smollm2.embed_spans([other], [REPLIES[0]])[0]
    assert np.linalg.norm(a - b) > 1e-2


def test_bounded_context_keeps_the_latest_messages() -> None:
    context = [
        Message("system", "sys", pinned=True),
        Message("human", "x" * 500),
        Message("assistant", "y" * 100),
        Message("human", "z" * 150),
    ]
    kept = bound_context(context, 300)
    assert [m.role for m in kept] == ["human", "assistant", "human"]
    assert sum(len(m.text) for m in kept) == 300 and kept[0].text == "x" * 50


def test_span_cache_computes_each_item_once(smollm2, tmp_path: Path) -> None:
    spy = CountingFeaturizer(smollm2)
    first = cached_span_features(spy, [ASK, ASK], REPLIES, tmp_path)
    again = cached_span_features(spy, [ASK, ASK], REPLIES, tmp_path)
    assert spy.calls == 2
    np.testing.assert_array_equal(first, again)
    # a damaged entry is recomputed rather than crashing
    damaged = next(tmp_path.rglob("*.npy"))
    damaged.write_bytes(b"garbage")
    cached_span_features(spy, [ASK, ASK], REPLIES, tmp_path)
    assert spy.calls == 3


def test_cached_text_embeddings_for_other_analyses(smollm2, tmp_path: Path) -> None:
    spy = CountingFeaturizer(smollm2)
    done: list[int] = []
    texts = ["\n\nHuman: hi\n\nAssistant: hello", "\n\nHuman: hack a bank\n\nAssistant: no"]
    vectors = cached_embeddings(spy, texts, tmp_path, progress=done.append)
    assert vectors.shape == (2, smollm2.dim) and sum(done) == 2
    cached_embeddings(spy, texts, tmp_path)
    assert spy.calls == 2
    assert FeatureCache.key(spy.id, texts[0]) != FeatureCache.key(spy.id, texts[1])


def test_features_match_the_backend_generation_features(smollm2) -> None:
    """The head trained on these features scores what rejection sampling hands it."""
    from redline.targets.backends.llamacpp import LlamaCppBackend

    backend = LlamaCppBackend("smollm2-135m", n_threads=1, n_ctx=512)
    prefix = backend.render_prompt(bound_context(ASK, smollm2.max_context_chars))
    assert prefix == smollm2.render_prefix(ASK)
    theirs = backend.embed_spans([prefix, prefix], REPLIES)
    mine = smollm2.embed_spans([ASK, ASK], REPLIES)
    for a, b in zip(mine, theirs, strict=True):
        assert np.corrcoef(a, b)[0, 1] > 0.999


def test_features_are_named_after_the_shipped_file_and_cached_by_the_file_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A PM trained where the BF16 copy runs must load where the shipped file runs (same
    feature id), but their vectors must never share cache entries (different namespace)."""
    from redline.harmlessness import DEFAULT_PM
    from redline.harmlessness.pm_scorer import PreferenceModelScorer
    from redline.targets.backends.llamacpp import LlamaCppBackend

    monkeypatch.setenv("REDLINE_DATA_DIR", str(tmp_path / "data"))
    runs = {}
    for weights in ("shipped", "bf16"):
        monkeypatch.setenv("REDLINE_LLAMA_WEIGHTS", weights)
        runs[weights] = GGUFFeaturizer("smollm2-135m", n_threads=1)
    shipped, bf16 = runs["shipped"], runs["bf16"]
    assert bf16.path != shipped.path and bf16.source == shipped.path
    assert bf16.id == shipped.id and "Q4_1.gguf" in bf16.id
    assert bf16.cache_id != shipped.cache_id
    context = (Message("human", "How do I pick a lock?"),)
    a, b = (f.embed_spans([context], ["I can't help with that."])[0] for f in (shipped, bf16))
    assert not np.array_equal(a, b)  # really two weights files...
    assert float(a @ b / np.linalg.norm(a) / np.linalg.norm(b)) > 0.999  # ...of one model
    scorer = PreferenceModelScorer.from_file(DEFAULT_PM)
    for weights in ("shipped", "bf16"):
        monkeypatch.setenv("REDLINE_LLAMA_WEIGHTS", weights)
        backend = LlamaCppBackend("smollm2-135m", timeout_s=60)
        assert backend.path == runs[weights].path
        assert scorer.accepts_embeddings_from(backend), weights
