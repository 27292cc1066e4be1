"""Thin, typed wrappers over llama-cpp-python's low-level C API (one model, one context).

Why the low-level API and not ``llama_cpp.Llama``: batched multi-sequence sampling needs
several sequence ids in one ``llama_decode`` batch, a KV prefix shared between sequences
(``llama_memory_seq_cp``) and one sampler chain per sequence; ``Llama`` decodes one
sequence at a time. This module only translates between Python and C (tokens, batches,
logits/hidden-state rows, errors); the sampling algorithm lives in ``sampler.py``.
"""

from __future__ import annotations

import ctypes
import functools
import os
import threading
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import llama_cpp as llc
import numpy as np

from redline.errors import BackendError, BackendUnavailable
from redline.targets.cpu import choose_variant, forced_variant, machine_cpu_flags

#: Sequences decoded together in one batch: enough for rejection sampling (k=16).
MAX_PARALLEL = 16
#: Extra KV cells beyond ``n_ctx`` so that MAX_PARALLEL continuations of one prompt fit.
PARALLEL_KV_CELLS = MAX_PARALLEL * 256
#: Tokens per ``llama_decode`` call when evaluating prompts (also the timeout granularity).
N_BATCH = 512
#: Sequences of a context that batches across requests (llama.cpp allows at most 256):
#: each request takes one for its prompt plus one per candidate (17 for rejection sampling).
BATCHING_SEQS = 256
#: KV cells beyond ``n_ctx`` of such a context: the unique prompt tail and the candidates of
#: every request in the batch (common few-shot prefixes are shared, not duplicated).
BATCHING_KV_CELLS = 16384

_backend_lock = threading.Lock()
_backend_ready = False
_loaded_variant: str | None = None

#: Set in the self-check's child process, which must not start another self-check.
SELFCHECK_CHILD_ENV = "REDLINE_LLAMA_SELFCHECK_CHILD"


def _silence(level: int, text: bytes, user_data: ctypes.c_void_p) -> None:
    """llama.cpp logs every load to stderr; Redline reports problems through its errors."""


_LOG_CALLBACK = llc.llama_log_callback(_silence)


def init_backend() -> None:
    """Initialise llama.cpp once per process: self-check, quiet log, CPU kernels loaded.

    Before this process runs any llama.cpp kernel, a tiny decode runs in a child process
    (cached per build and CPU, see ``redline.targets.selfcheck``), so a build that cannot
    run on this CPU is a one-line BackendUnavailable instead of a SIGILL that kills the
    process (and, in ``redline serve``, every red teamer's session).
    """
    global _backend_ready, _loaded_variant
    with _backend_lock:
        if _backend_ready:
            return
        if not os.environ.get(SELFCHECK_CHILD_ENV):
            from redline.targets.selfcheck import ensure_llama_runs

            ensure_llama_runs()
        if not os.environ.get("REDLINE_LLAMA_LOG"):
            llc.llama_log_set(_LOG_CALLBACK, ctypes.c_void_p(0))
        llc.llama_backend_init()
        _loaded_variant = load_cpu_backend()
        _backend_ready = True


def loaded_variant() -> str | None:
    """The CPU variant this process loaded (None before init_backend, or for a build
    with one built-in CPU backend)."""
    return _loaded_variant


def load_cpu_backend() -> str | None:
    """Load the CPU kernels chosen for this CPU (``redline.targets.cpu``); returns the
    variant, or None where the build links one CPU backend in (nothing to choose)."""
    lib = _ggml()
    if lib.ggml_backend_reg_count() > 0:
        return None  # a build without GGML_BACKEND_DL: its CPU backend is already there
    files = llama_build().variants
    variant = planned_variant()
    if variant is None:
        raise BackendUnavailable(
            f"llama.cpp in {llama_build().lib_dir} has no CPU backend; "
            "reinstall llama-cpp-python as the README says"
        )
    if not lib.ggml_backend_load(str(files[variant]).encode()):
        raise BackendUnavailable(
            f"llama.cpp could not load its CPU kernels {files[variant]}; reinstall "
            "llama-cpp-python as the README says (REDLINE_LLAMA_LOG=1 shows why)"
        )
    return variant


def planned_variant() -> str | None:
    """The CPU variant this process loads (or has loaded), decided without loading it:
    None for a build that has no variants to choose from."""
    files = llama_build().variants
    if not files:
        return None
    return choose_variant(machine_cpu_flags(), files, forced_variant())


@dataclass(frozen=True)
class LlamaBuild:
    """The installed llama.cpp: where its libraries are and which CPU variants it has."""

    lib_dir: Path
    #: variant name -> ``libggml-cpu-<variant>.so`` (empty for a one-CPU-backend build)
    variants: dict[str, Path]

    @property
    def libraries(self) -> list[Path]:
        """Every shared library of the build (their sizes and times identify it)."""
        return sorted({*self.lib_dir.glob("*.so*"), *self.variants.values()})


@functools.cache
def llama_build() -> LlamaBuild:
    """Find llama-cpp-python's libraries and the CPU variant modules of a
    ``GGML_CPU_ALL_VARIANTS`` build (installed next to them or in the environment's
    ``bin``/``lib`` folder, where llama.cpp's CMake puts backend modules)."""
    lib_dir = Path(llc.__file__).resolve().parent / "lib"
    site = lib_dir.parents[1]
    variants: dict[str, Path] = {}
    for folder in (lib_dir, site / "bin", site / "lib"):
        for path in sorted(folder.glob("libggml-cpu-*.so")):
            variants.setdefault(path.name[len("libggml-cpu-") : -len(".so")], path)
    return LlamaBuild(lib_dir=lib_dir, variants=variants)


def _ggml() -> ctypes.CDLL:
    """The libggml that libllama itself uses, with the registry functions Redline calls.

    Why not ``llama_cpp._ggml``: wheels store a library's symlinks as copies, and that
    module opens ``libggml.so``, a second copy with its own (empty) backend registry;
    libllama links ``libggml.so.<major>``, so that very file is opened (dlopen then returns
    the copy already loaded).
    """
    lib_dir = llama_build().lib_dir
    linked = sorted(lib_dir.glob("libggml.so.[0-9]*"), key=lambda p: len(p.name))
    lib = ctypes.CDLL(str(linked[0] if linked else lib_dir / "libggml.so"))
    lib.ggml_backend_reg_count.restype = ctypes.c_size_t
    lib.ggml_backend_reg_count.argtypes = []
    lib.ggml_backend_load.restype = ctypes.c_void_p
    lib.ggml_backend_load.argtypes = [ctypes.c_char_p]
    return lib


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
    #: Room for many requests at once (see ``batching.py``): BATCHING_SEQS sequences and
    #: BATCHING_KV_CELLS more cells; otherwise one request's MAX_PARALLEL candidates.
    batching: bool = False

    @property
    def n_seq_max(self) -> int:
        return BATCHING_SEQS if self.batching else MAX_PARALLEL + 1

    @property
    def kv_size(self) -> int:
        return self.n_ctx + (BATCHING_KV_CELLS if self.batching else PARALLEL_KV_CELLS)


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
        self.kv_size = config.kv_size
        params = llc.llama_context_default_params()
        params.n_ctx = self.kv_size
        params.n_batch = N_BATCH
        params.n_ubatch = N_BATCH
        params.n_seq_max = config.n_seq_max
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
        #: batching contexts keep several prompts instead: sequence id -> its tokens
        #: (see ``batching.CACHE_SLOTS``)
        self.cached_prompts: dict[int, list[int]] = {}
        #: the cross-request batching engine of this context (``batching.engine_for``)
        self.engine: object | None = None

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

    def seq_copy_range(self, src: int, dst: int, start: int, end: int) -> None:
        """Let ``dst`` share ``src``'s cells for positions [start, end) (a common prefix)."""
        llc.llama_memory_seq_cp(self.memory, src, dst, start, end)

    def seq_remove(self, seq: int, start: int = -1) -> bool:
        return bool(llc.llama_memory_seq_rm(self.memory, seq, start, -1))

    @property
    def cached_cells(self) -> int:
        """KV cells the cached prompts may hold (an upper bound: prompts that share a
        prefix share its cells)."""
        return len(self.prompt_cache) + sum(len(t) for t in self.cached_prompts.values())

    def clear(self) -> None:
        llc.llama_memory_clear(self.memory, True)
        self.prompt_cache = []
        self.cached_prompts = {}

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
