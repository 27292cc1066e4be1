"""Features for the preference model: hidden states of a real LM over (context, reply).

Why this design: during rejection sampling the generating model already computes a
hidden state for every reply token it decodes, so the mean of those states over the
reply tokens is a feature that costs nothing extra. The same feature is computed here by a
separate forward pass (for training and for ``redline score``): evaluate the rendered
context, then the reply tokens after it, and mean-pool the final-layer states of the reply
tokens only. Contexts are bounded (the last few messages, at most ``max_context_chars``)
so training stays cheap and close to what the scorer sees.

Every featurizer has an ``id`` naming the backbone and the feature recipe; the on-disk
cache (:class:`FeatureCache`) keys vectors by sha256 of (id, text), so a feature is
computed once per machine whatever asks for it.
"""

from __future__ import annotations

import ctypes
import hashlib
import os
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np

from redline.errors import BackendError, BackendUnavailable, ConfigError
from redline.targets.base import Conversation, Message
from redline.targets.catalogue import CATALOGUE, ResolvedModel, resolve_model
from redline.targets.weights import file_fingerprint

Pooling = Literal["reply_mean", "reply_last", "exchange_mean"]
POOLINGS: tuple[str, ...] = ("reply_mean", "reply_last", "exchange_mean")
Progress = Callable[[int], None]


def resolve_backbone(name_or_path: str | Path) -> ResolvedModel:
    """A backbone name (``smollm2-135m``, ``gemma3-270m``) or any GGUF path, resolved like
    a target's model: ``path`` is the file llama.cpp runs (maybe a BF16 copy),
    ``source_path`` the model it stands for. Features are named after the source, so a PM
    trained where the copy runs still loads where the shipped file runs; the on-disk cache
    is keyed by the file actually run."""
    if str(name_or_path) not in CATALOGUE and not Path(name_or_path).is_file():
        raise ConfigError(
            f"backbone {name_or_path!r} is neither a known name ({', '.join(CATALOGUE)}) "
            "nor an existing GGUF file"
        )
    return resolve_model(name_or_path)


def bound_context(context: Conversation, max_chars: int) -> list[Message]:
    """The latest messages of ``context`` whose text fits in ``max_chars`` (system and
    pinned few-shot messages dropped); the oldest kept message is cut from the left.

    Why: the harm of a reply depends mostly on the request it answers; a bounded context
    keeps the feature cheap and the same for a 1-turn pair and a 10-turn attempt.
    """
    kept: list[Message] = []
    budget = max_chars
    for message in reversed([m for m in context if m.role != "system" and not m.pinned]):
        if budget <= 0:
            break
        text = message.text if len(message.text) <= budget else message.text[-budget:]
        kept.append(Message(message.role, text))
        budget -= len(text)
    kept.reverse()
    while kept and kept[0].role == "assistant":
        kept.pop(0)  # a conversation shown to the model starts with the human
    return kept


@runtime_checkable
class SpanFeaturizer(Protocol):
    """Turns (context, reply) pairs into fixed-size vectors; ``id`` names backbone + recipe."""

    id: str
    dim: int

    def embed_spans(
        self, contexts: Sequence[Conversation], replies: Sequence[str]
    ) -> np.ndarray: ...

    def embed(self, texts: Sequence[str]) -> np.ndarray: ...


@dataclass
class RenderedPair:
    """The token ids the PM reads for one (context, reply): the prefix, then the reply."""

    prefix: list[int]
    reply: list[int]


class GGUFFeaturizer:
    """Final-layer hidden states of a GGUF model through llama.cpp, pooled over reply tokens.

    Pairs that share a context (both replies of a comparison, the 16 samples of a
    rejection-sampling turn) evaluate the context once: its KV cache is kept and only
    the reply tokens are run again.
    """

    def __init__(
        self,
        model: str | Path = "smollm2-135m",
        *,
        pooling: Pooling = "reply_mean",
        max_context_chars: int = 300,
        max_reply_tokens: int = 64,
        n_ctx: int = 1024,
        n_threads: int | None = None,
    ) -> None:
        if pooling not in POOLINGS:
            raise ConfigError(f"pooling {pooling!r} unknown; use one of {', '.join(POOLINGS)}")
        self.backbone = str(model)
        resolved = resolve_backbone(model)
        self.path, self.source = resolved.path, resolved.source_path
        self.pooling = pooling
        self.max_context_chars = max_context_chars
        self.max_reply_tokens = max_reply_tokens
        self.n_ctx = n_ctx
        # One thread by default: on a shared CPU, OpenMP threads that spin-wait for a busy
        # sibling core are much slower than one thread (measured: minutes vs seconds).
        self.n_threads = n_threads or 1
        self._llm: Any = None
        self._template: Any = None
        self._fingerprint = file_fingerprint(self.source)
        self._run_fingerprint = file_fingerprint(self.path) if self.path != self.source else ""
        self.id = self.feature_id(pooling)
        self.cache_id = self.cache_namespace(pooling)
        self.dim = 0
        self._load()

    def feature_id(self, pooling: str) -> str:
        """Identity of one recipe on this backbone (cache key prefix, stored in PM files)."""
        return (
            f"gguf:{self.source.name}:{self._fingerprint}:{pooling}:"
            f"c{self.max_context_chars}:r{self.max_reply_tokens}"
        )

    def cache_namespace(self, pooling: str) -> str:
        """Cache key prefix: the recipe on the file actually run (a BF16 copy or the source),
        so vectors computed from different weights files never mix."""
        feature_id = self.feature_id(pooling)
        return f"{feature_id}:{self._run_fingerprint}" if self._run_fingerprint else feature_id

    # -- model -------------------------------------------------------------------------
    def _load(self) -> None:
        try:
            import llama_cpp
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter
        except ImportError as exc:  # pragma: no cover - llama-cpp-python is a dependency
            raise BackendUnavailable("llama-cpp-python is not installed") from exc
        from redline.targets.backends.native import init_backend

        init_backend()  # self-check, and the CPU kernels llama_cpp.Llama does not load
        try:
            self._llm = llama_cpp.Llama(
                str(self.path),
                embedding=True,
                pooling_type=llama_cpp.LLAMA_POOLING_TYPE_NONE,
                n_ctx=self.n_ctx,
                n_batch=self.n_ctx,
                n_ubatch=self.n_ctx,
                n_threads=self.n_threads,
                n_threads_batch=self.n_threads,
                verbose=False,
            )
        except (ValueError, RuntimeError) as exc:
            raise BackendUnavailable(f"cannot load {self.path}: {exc}") from exc
        self.dim = int(self._llm.n_embd())
        template = self._llm.metadata.get("tokenizer.chat_template")
        if template:
            model = self._llm._model
            self._template = Jinja2ChatFormatter(
                template,
                eos_token=model.token_get_text(self._llm.token_eos()),
                bos_token=model.token_get_text(self._llm.token_bos()),
            )

    def render_prefix(self, context: Conversation) -> str:
        """The text the model reads before the reply: its chat template when the GGUF has
        one (instruct models), else the hh-rlhf ``Human:/Assistant:`` form (base models)."""
        messages = bound_context(context, self.max_context_chars)
        if self._template is not None:
            roles = {"human": "user", "assistant": "assistant", "system": "system"}
            chat = [{"role": roles[m.role], "content": m.text} for m in messages]
            return str(self._template(messages=chat).prompt)
        body = "".join(
            f"\n\n{'Human' if m.role == 'human' else 'Assistant'}: {m.text}" for m in messages
        )
        return body + "\n\nAssistant:"

    def tokens(self, prefix: str, reply: str) -> RenderedPair:
        """The exact ids this featurizer reads (benchmarks/pm_lora.py trains on the same)."""
        llm = self._llm
        has_bos_text = self._template is not None
        prefix_tokens = llm.tokenize(prefix.encode(), add_bos=not has_bos_text, special=True)
        if self._template is None:
            reply = " " + reply
        reply_tokens = llm.tokenize(reply.encode(), add_bos=False, special=False)
        reply_tokens = reply_tokens[: self.max_reply_tokens] or [llm.token_eos()]
        room = self.n_ctx - len(reply_tokens)
        if len(prefix_tokens) > room:  # keep the end of the prefix (the request)
            prefix_tokens = prefix_tokens[-room:]
        return RenderedPair(prefix_tokens, reply_tokens)

    def _decode(self, tokens: list[int], start: int, outputs: bool) -> np.ndarray | None:
        import llama_cpp

        batch = self._llm._batch
        n = len(tokens)
        raw = batch.batch
        raw.n_tokens = n
        for i, token in enumerate(tokens):
            raw.token[i] = token
            raw.pos[i] = start + i
            raw.seq_id[i][0] = 0
            raw.n_seq_id[i] = 1
            raw.logits[i] = outputs
        raw.logits[n - 1] = True
        try:
            self._llm._ctx.decode(batch)
        except RuntimeError as exc:
            raise BackendError(f"llama.cpp could not evaluate {n} tokens: {exc}") from exc
        n_out = n if outputs else 1
        ptr = llama_cpp.llama_get_embeddings(self._llm._ctx.ctx)
        flat = ctypes.cast(ptr, ctypes.POINTER(ctypes.c_float * (n_out * self.dim))).contents
        return np.ctypeslib.as_array(flat).reshape(n_out, self.dim).astype(np.float32, copy=True)

    def span_states(self, context: Conversation, replies: Sequence[str]) -> list[dict[str, Any]]:
        """Per reply: every pooling at once (for feature studies) from one shared prefix."""
        prefix = self.render_prefix(context)
        rendered = [self.tokens(prefix, reply) for reply in replies]
        out: list[dict[str, Any]] = []
        ctx = self._llm._ctx
        cached_prefix: list[int] | None = None
        prefix_mean = np.zeros(self.dim, dtype=np.float32)
        for item in rendered:
            if item.prefix != cached_prefix:
                ctx.kv_cache_clear()
                states = self._decode(item.prefix, 0, outputs=True)
                assert states is not None
                prefix_mean = states.mean(axis=0)
                cached_prefix = item.prefix
            else:
                ctx.kv_cache_seq_rm(0, len(item.prefix), -1)
            reply_states = self._decode(item.reply, len(item.prefix), outputs=True)
            assert reply_states is not None
            n_p, n_r = len(item.prefix), len(item.reply)
            out.append(
                {
                    "reply_mean": reply_states.mean(axis=0),
                    "reply_last": reply_states[-1],
                    "exchange_mean": (prefix_mean * n_p + reply_states.sum(axis=0)) / (n_p + n_r),
                    "tokens": n_p + n_r,
                }
            )
        return out

    def embed_spans(self, contexts: Sequence[Conversation], replies: Sequence[str]) -> np.ndarray:
        """One vector per (context, reply); consecutive equal contexts share one prefix pass."""
        if len(contexts) != len(replies):
            raise ValueError("contexts and replies must have the same length")
        result = np.zeros((len(replies), self.dim), dtype=np.float32)
        i = 0
        while i < len(replies):
            j = i + 1
            while j < len(replies) and list(contexts[j]) == list(contexts[i]):
                j += 1
            for k, states in enumerate(self.span_states(contexts[i], replies[i:j])):
                result[i + k] = states[self.pooling]
            i = j
        return result

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        """Mean of the final-layer states over a whole text (for attack maps and the like)."""
        result = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            tokens = self._llm.tokenize(text.encode(), add_bos=True, special=False)
            tokens = tokens[: self.n_ctx] or [self._llm.token_bos()]
            self._llm._ctx.kv_cache_clear()
            states = self._decode(tokens, 0, outputs=True)
            assert states is not None
            result[i] = states.mean(axis=0)
        return result


class FeatureCache:
    """Vectors on disk, one ``.npy`` per key (sha256 of featurizer id and text), written
    atomically so concurrent processes and interrupted runs never leave a torn file."""

    def __init__(self, directory: str | Path) -> None:
        self.directory = Path(directory)

    @staticmethod
    def key(feature_id: str, *parts: str) -> str:
        digest = hashlib.sha256(feature_id.encode())
        for part in parts:
            digest.update(b"\x00")
            digest.update(part.encode("utf-8", "surrogatepass"))
        return digest.hexdigest()

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        path = self._path(key)
        if not path.exists():
            return None
        try:
            return np.load(path, allow_pickle=False)
        except (ValueError, OSError):
            return None  # a damaged entry is recomputed

    def put(self, key: str, vector: np.ndarray) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".tmp")
        with os.fdopen(fd, "wb") as fh:
            np.save(fh, np.asarray(vector, dtype=np.float32), allow_pickle=False)
        os.replace(tmp, path)


def _feature_id(featurizer_or_backend: Any) -> str:
    for attr in ("id", "name"):
        value = getattr(featurizer_or_backend, attr, None)
        if isinstance(value, str) and value:
            return value
    raise ConfigError(f"{type(featurizer_or_backend).__name__} has no id or name to key a cache")


def cached_embeddings(
    featurizer_or_backend: Any,
    texts: Sequence[str],
    cache_dir: str | Path,
    *,
    progress: Progress | None = None,
    batch_size: int = 16,
) -> np.ndarray:
    """Whole-text embeddings (``.embed``) of any featurizer or backend, cached on disk.

    Only texts missing from the cache are computed, in batches, each batch stored before
    the next starts, so an interrupted run keeps its work. ``progress(n)`` is called with
    the number of texts done (cached ones included).
    """
    feature_id = "text:" + _feature_id(featurizer_or_backend)
    cache = FeatureCache(cache_dir)
    keys = [cache.key(feature_id, text) for text in texts]
    found: dict[int, np.ndarray] = {}
    missing: list[int] = []
    for i, key in enumerate(keys):
        vector = cache.get(key)
        if vector is None:
            missing.append(i)
        else:
            found[i] = vector
    if progress and found:
        progress(len(found))
    for start in range(0, len(missing), batch_size):
        chunk = missing[start : start + batch_size]
        vectors = np.asarray(featurizer_or_backend.embed([texts[i] for i in chunk]))
        for i, vector in zip(chunk, vectors, strict=True):
            cache.put(keys[i], vector)
            found[i] = vector
        if progress:
            progress(len(chunk))
    if not texts:
        return np.zeros((0, 0), dtype=np.float32)
    return np.stack([found[i] for i in range(len(texts))]).astype(np.float32)


def context_key(context: Conversation) -> str:
    return "".join(f"\x01{m.role}\x02{m.text}" for m in context)


def cached_span_features(
    featurizer: SpanFeaturizer,
    contexts: Sequence[Conversation],
    replies: Sequence[str],
    cache_dir: str | Path,
    *,
    progress: Progress | None = None,
) -> np.ndarray:
    """:meth:`SpanFeaturizer.embed_spans`, cached by (featurizer id, context, reply).

    Missing items are computed grouped by context (so shared prefixes are evaluated once)
    and stored group by group.
    """
    cache = FeatureCache(cache_dir)
    namespace = getattr(featurizer, "cache_id", featurizer.id)
    keys = [cache.key(namespace, context_key(c), r) for c, r in zip(contexts, replies, strict=True)]
    result: list[np.ndarray | None] = [cache.get(k) for k in keys]
    if progress:
        done = sum(v is not None for v in result)
        if done:
            progress(done)
    groups: dict[str, list[int]] = {}
    for i, vector in enumerate(result):
        if vector is None:
            groups.setdefault(context_key(contexts[i]), []).append(i)
    for indices in groups.values():
        vectors = featurizer.embed_spans(
            [contexts[i] for i in indices], [replies[i] for i in indices]
        )
        for i, vector in zip(indices, vectors, strict=True):
            cache.put(keys[i], vector)
            result[i] = vector
        if progress:
            progress(len(indices))
    if not result:
        return np.zeros((0, featurizer.dim), dtype=np.float32)
    return np.stack([v for v in result if v is not None]).astype(np.float32)
