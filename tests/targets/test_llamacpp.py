"""The llama.cpp backend with the two embedded models: real generation, short outputs.

Every test here runs a real model (SmolLM2-135M-Instruct, chat; Gemma 3 270M, base) with
fixed seeds and a handful of tokens, so each takes seconds, not minutes.
"""

from __future__ import annotations

import tempfile
import threading
import time
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from redline.config import Settings, load_settings
from redline.errors import BackendTimeout, BackendUnavailable, ContextOverflow, EmptyGeneration
from redline.targets.backends.llamacpp import LlamaCppBackend
from redline.targets.base import Backend, Message

SYSTEM = Message("system", "You are a helpful, honest and harmless assistant.", pinned=True)
ASK = Message("human", "Name a fruit that is yellow.")


@cache
def _settings() -> Settings:
    """One data directory for the whole run, so Gemma is assembled (and loaded) once."""
    root = Path(tempfile.mkdtemp(prefix="redline-llamacpp-test-"))
    return load_settings(data_dir=root / "data", cwd=root)


@cache
def smollm() -> LlamaCppBackend:
    return LlamaCppBackend("smollm2-135m", settings=_settings(), n_ctx=1024)


@cache
def gemma() -> LlamaCppBackend:
    return LlamaCppBackend("gemma3-270m", settings=_settings(), n_ctx=1024)


def _cos(a: np.ndarray, b: np.ndarray) -> float:
    return float(a @ b / (np.linalg.norm(a) * np.linalg.norm(b)))


# -- prompts -------------------------------------------------------------------------------


def test_chat_model_uses_its_chat_template() -> None:
    backend = smollm()
    assert isinstance(backend, Backend)
    assert backend.is_chat and backend.name == "smollm2-135m"
    prompt = backend.render_prompt([SYSTEM, ASK])
    assert prompt == (
        "<|im_start|>system\nYou are a helpful, honest and harmless assistant.<|im_end|>\n"
        "<|im_start|>user\nName a fruit that is yellow.<|im_end|>\n<|im_start|>assistant\n"
    )
    # Special tokens of the template are single tokens, not spelled out.
    assert len(backend.prompt_tokens(prompt)) < backend.count_tokens(prompt)


@pytest.mark.slow
def test_base_model_gets_a_transcript_with_the_system_text_first() -> None:
    backend = gemma()
    assert not backend.is_chat
    conv = [SYSTEM, Message("human", "Hi"), Message("assistant", "Hello!"), ASK]
    assert backend.render_prompt(conv) == (
        "You are a helpful, honest and harmless assistant."
        "\n\nHuman: Hi\n\nAssistant: Hello!\n\nHuman: Name a fruit that is yellow."
        "\n\nAssistant:"
    )
    assert "\nHuman:" in backend.stop


def test_count_tokens() -> None:
    backend = smollm()
    assert backend.count_tokens("") == 0
    assert 1 <= backend.count_tokens("hello") <= 2
    assert backend.count_tokens("hello world " * 10) > backend.count_tokens("hello world")


# -- generation ----------------------------------------------------------------------------


@pytest.mark.slow
def test_smollm_generates_candidates_reproducibly() -> None:
    backend = smollm()
    first = backend.generate([SYSTEM, ASK], n=3, max_tokens=12, seed=7)
    assert len(first) == 3
    for sample in first:
        assert sample.text and sample.text == sample.text.strip()
        assert 1 <= sample.completion_tokens <= 12
        assert sample.meta["finish_reason"] in {"stop", "length"}
        assert sample.meta["dropped_turns"] == 0
        assert sample.meta["prompt_tokens"] == sample.prompt_tokens > 10
        assert sample.latency_s > 0
    assert len({s.meta["seed"] for s in first}) == 3
    again = backend.generate([SYSTEM, ASK], n=3, max_tokens=12, seed=7)
    assert [s.text for s in again] == [s.text for s in first]
    # The prompt was cached: the second call evaluated only its last token.
    assert again[0].meta["prompt_tokens_evaluated"] == 1


@pytest.mark.slow
def test_batch_of_sixteen_draws_distinct_candidates() -> None:
    samples = smollm().generate([SYSTEM, ASK], n=16, max_tokens=10, seed=3, ignore_eos=True)
    assert len(samples) == 16
    assert all(s.completion_tokens == 10 for s in samples)
    assert all(s.meta["finish_reason"] == "length" for s in samples)
    assert len({s.text for s in samples}) >= 8, [s.text for s in samples]


@pytest.mark.slow
def test_gemma_base_model_stops_before_writing_the_next_human_turn() -> None:
    backend = gemma()
    samples = backend.generate([SYSTEM, ASK], n=2, max_tokens=40, seed=11)
    assert len(samples) == 2
    for sample in samples:
        assert sample.text
        assert "Human:" not in sample.text and "Assistant:" not in sample.text


@pytest.mark.slow
def test_greedy_is_the_same_for_every_candidate() -> None:
    samples = smollm().generate([SYSTEM, ASK], n=3, max_tokens=8, temperature=0.0, seed=1)
    assert len({s.text for s in samples}) == 1


@pytest.mark.slow
def test_concurrent_calls_without_batching_are_serialised_and_match_sequential_ones() -> None:
    backend = LlamaCppBackend("smollm2-135m", settings=_settings(), n_ctx=1024, batching=False)
    conv_a = [SYSTEM, ASK]
    conv_b = [SYSTEM, Message("human", "Name an animal that can fly.")]
    expected_a = [s.text for s in backend.generate(conv_a, n=2, max_tokens=8, seed=5)]
    expected_b = [s.text for s in backend.generate(conv_b, n=2, max_tokens=8, seed=6)]
    got: dict[str, list[str]] = {}
    errors: list[BaseException] = []

    def run(key: str, conv: list[Message], seed: int) -> None:
        try:
            got[key] = [s.text for s in backend.generate(conv, n=2, max_tokens=8, seed=seed)]
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [
        threading.Thread(target=run, args=("a", conv_a, 5)),
        threading.Thread(target=run, args=("b", conv_b, 6)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not errors, errors
    assert got == {"a": expected_a, "b": expected_b}


@pytest.mark.slow
@pytest.mark.parametrize("batching", [True, False])
def test_top_logprobs_describe_each_greedy_token(batching: bool) -> None:
    """Greedy decoding picks the most likely token, so at every position the token written
    is the first of the alternatives; the alternatives are log-probabilities of one
    distribution; the tokens spell the reply. Both decode paths (the batching engine and
    one request at a time) record them."""
    backend = LlamaCppBackend("smollm2-135m", settings=_settings(), n_ctx=1024, batching=batching)
    [sample] = backend.generate([SYSTEM, ASK], n=1, max_tokens=8, temperature=0.0, top_logprobs=5)
    logprobs = sample.meta["logprobs"]
    assert len(logprobs) == sample.completion_tokens > 0
    assert "".join(item["token"] for item in logprobs).strip() == sample.text
    for item in logprobs:
        top = item["top"]
        assert 0 < len(top) <= 5
        assert next(iter(top)) == item["token"]  # most likely first, and greedy took it
        assert list(top.values()) == sorted(top.values(), reverse=True)
        assert all(lp <= 0 for lp in top.values())
        assert sum(np.exp(list(top.values()))) <= 1 + 1e-6
    again = backend.generate([SYSTEM, ASK], n=1, max_tokens=8, temperature=0.0)[0]
    assert again.text == sample.text and "logprobs" not in again.meta


# -- hidden states -------------------------------------------------------------------------


@pytest.mark.slow
def test_generation_embeddings_match_embed_spans() -> None:
    backend = smollm()
    conv = [SYSTEM, ASK]
    samples = backend.generate(conv, n=2, max_tokens=16, seed=2, embed=True)
    prefix = backend.render_prompt(conv)
    spans = backend.embed_spans([prefix] * 2, [s.text for s in samples])
    for sample, row in zip(samples, spans, strict=True):
        vec = np.asarray(sample.meta["embedding"])
        assert vec.shape == (576,)
        assert _cos(vec, row) > 0.98
    if samples[0].text != samples[1].text:
        assert _cos(np.asarray(samples[0].meta["embedding"]), spans[1]) < _cos(
            np.asarray(samples[0].meta["embedding"]), spans[0]
        )


@pytest.mark.slow
def test_embed_rows_do_not_depend_on_batch_company() -> None:
    backend = smollm()
    texts = ["How do I bake bread?", "Tell me how to pick a lock.", ""]
    together = backend.embed(texts)
    alone = backend.embed(texts[:1])
    assert together.shape == (3, 576)
    assert _cos(together[0], alone[0]) > 0.999
    assert _cos(together[0], together[1]) < 0.99
    assert not together[2].any(), "an empty text has no tokens: zero row"


@pytest.mark.slow
def test_embed_spans_shares_a_common_prefix() -> None:
    backend = gemma()
    prefix = backend.render_prompt([SYSTEM, ASK])
    rows = backend.embed_spans([prefix, prefix], ["A banana.", "A lemon is yellow."])
    solo = backend.embed_spans([prefix], ["A lemon is yellow."])
    assert rows.shape == (2, 640)
    assert _cos(rows[1], solo[0]) > 0.999
    with pytest.raises(ValueError, match="2 prefixes but 1 replies"):
        backend.embed_spans([prefix, prefix], ["x"])


# -- faults --------------------------------------------------------------------------------


@pytest.mark.slow
def test_context_overflow_drops_oldest_unpinned_turns() -> None:
    backend = LlamaCppBackend("smollm2-135m", settings=_settings(), n_ctx=256)
    filler = "Tell me more about the history of bread. " * 6
    conv = [SYSTEM]
    for i in range(6):
        conv += [Message("human", f"{i}: {filler}"), Message("assistant", f"Answer {i}.")]
    conv.append(ASK)
    samples = backend.generate(conv, n=1, max_tokens=16, seed=1)
    meta = samples[0].meta
    assert meta["dropped_turns"] >= 2
    assert meta["dropped_messages"] == 2 * meta["dropped_turns"]
    assert meta["prompt_tokens"] + 16 <= 256
    # What was dropped is the oldest turns; the system prompt and the last message stayed.
    kept = backend.render_prompt([SYSTEM, *conv[1 + meta["dropped_messages"] : -1], ASK])
    assert len(backend.prompt_tokens(kept)) == meta["prompt_tokens"]
    assert "Answer 0." not in kept and "Answer 5." in kept


@pytest.mark.slow
def test_context_overflow_when_the_pinned_prompt_alone_is_too_long() -> None:
    backend = LlamaCppBackend("smollm2-135m", settings=_settings(), n_ctx=256)
    long_system = Message("system", "Be kind and careful. " * 100, pinned=True)
    with pytest.raises(ContextOverflow, match=r"needs \d+ tokens but only 240 fit"):
        backend.generate([long_system, ASK], max_tokens=16)
    with pytest.raises(ContextOverflow, match="max_tokens=300"):
        backend.generate([ASK], max_tokens=300)


@pytest.mark.slow
def test_timeout_while_decoding_reports_what_it_got() -> None:
    backend = LlamaCppBackend("smollm2-135m", settings=_settings(), n_ctx=1024, timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(BackendTimeout, match=r"within 0\.5 s"):
        backend.generate([SYSTEM, ASK], n=4, max_tokens=900, seed=1, ignore_eos=True)
    assert time.monotonic() - started < 10
    # The context is usable afterwards.
    assert smollm().generate([SYSTEM, ASK], n=1, max_tokens=4, seed=1)[0].text


@pytest.mark.slow
def test_timeout_while_waiting_for_a_busy_model() -> None:
    backend = LlamaCppBackend("smollm2-135m", settings=_settings(), n_ctx=1024, timeout_s=0.3)
    lock = backend._ctx.lock
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with lock:
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        holding.wait(10)
        started = time.monotonic()
        with pytest.raises(BackendTimeout, match="busy with other requests"):
            backend.generate([SYSTEM, ASK], max_tokens=4)
        assert time.monotonic() - started < 5
    finally:
        release.set()
        holder.join()


@pytest.mark.slow
def test_empty_generation_is_reported() -> None:
    # Few-shot turns where the assistant always says nothing: greedy decoding then ends the
    # reply at once, and the redraw (also greedy) does too.
    backend = gemma()
    shots: list[Message] = []
    for q in ("Hi", "Are you there?", "Hello?", "Say something.", "Anything?"):
        shots += [Message("human", q, pinned=True), Message("assistant", "", pinned=True)]
    with pytest.raises(EmptyGeneration, match="blank even after one redraw"):
        backend.generate([*shots, Message("human", "Why so quiet?")], n=2, max_tokens=8,
                         temperature=0.0)  # fmt: skip


def test_corrupt_gguf_is_unavailable(tmp_path: Path) -> None:
    broken = tmp_path / "broken.gguf"
    broken.write_bytes(b"GGUF" + b"\x00" * 64)
    with pytest.raises(BackendUnavailable, match=r"broken\.gguf.*corrupt"):
        LlamaCppBackend(broken)


def test_missing_model_is_unavailable(tmp_path: Path) -> None:
    with pytest.raises(BackendUnavailable, match="does not exist"):
        LlamaCppBackend(tmp_path / "missing.gguf")


def test_thread_count_default_and_override(monkeypatch: pytest.MonkeyPatch) -> None:
    from redline.errors import ConfigError
    from redline.targets.backends.llamacpp import default_threads

    monkeypatch.delenv("REDLINE_LLAMA_THREADS", raising=False)
    assert default_threads() >= 1
    monkeypatch.setenv("REDLINE_LLAMA_THREADS", "3")
    assert default_threads() == 3
    monkeypatch.setenv("REDLINE_LLAMA_THREADS", "many")
    with pytest.raises(ConfigError, match="REDLINE_LLAMA_THREADS"):
        default_threads()
