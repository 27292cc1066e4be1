"""PEFT LoRA weights -> a GGUF LoRA adapter that llama.cpp applies on top of the GGUF model.

Why our own writer: llama.cpp's ``convert_lora_to_gguf.py`` is not installed; the
``gguf`` package's :class:`~gguf.GGUFWriter` writes the same format. The file holds
``general.type = adapter``, ``adapter.type = lora``, ``adapter.lora.alpha`` and, for every
adapted weight, ``<gguf tensor>.lora_a`` (numpy shape ``[r, n_in]``) and ``.lora_b``
(``[n_out, r]``): numpy shapes equal PEFT's ``lora_A``/``lora_B`` weights because GGUF lists
dimensions in reverse order. llama.cpp scales ``B @ A`` by ``alpha / r`` as PEFT does.

The one trap: llama.cpp stores q/k projections with rows permuted for its RoPE layout, and
transformers undoes that permutation when it loads a GGUF. The rows of ``lora_B`` of
``q_proj``/``k_proj`` are output rows, so they get the same permutation back on export
(A is indexed by input features and is left alone).

This module needs numpy and ``gguf`` only (no torch), so the llama.cpp side can load it.
"""

from __future__ import annotations

import ctypes
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from redline.errors import BackendUnavailable, DataFormatError

#: transformers llama module name -> llama.cpp GGUF tensor stem.
HF_TO_GGUF = {
    "self_attn.q_proj": "attn_q",
    "self_attn.k_proj": "attn_k",
    "self_attn.v_proj": "attn_v",
    "self_attn.o_proj": "attn_output",
    "mlp.gate_proj": "ffn_gate",
    "mlp.up_proj": "ffn_up",
    "mlp.down_proj": "ffn_down",
}
_PEFT_KEY = re.compile(
    r"(?:^|\.)layers\.(?P<layer>\d+)\.(?P<module>(?:self_attn|mlp)\.[a-z_]+)\."
    r"lora_(?P<ab>[AB])(?:\.[A-Za-z0-9_-]+)?\.weight$"
)


@dataclass(frozen=True)
class LoraFile:
    """What an exported adapter says about itself (read back for checks and the registry)."""

    path: Path
    alpha: float
    rank: int
    tensors: dict[str, tuple[int, ...]]
    metadata: dict[str, str]


def rope_permute(rows: np.ndarray, n_head: int) -> np.ndarray:
    """llama.cpp's q/k row order (``convert_hf_to_gguf``'s permute) for an ``[n_out, ...]``
    matrix whose rows are ``n_head`` heads in transformers' rotate-half order."""
    n_out = rows.shape[0]
    if n_out % (2 * n_head):
        raise ValueError(f"{n_out} rows do not split into {n_head} heads of two halves")
    return (
        rows.reshape(n_head, 2, n_out // n_head // 2, *rows.shape[1:])
        .swapaxes(1, 2)
        .reshape(rows.shape)
    )


def gguf_tensor_name(peft_key: str) -> tuple[str, str]:
    """``base_model.model.model.layers.3.self_attn.v_proj.lora_A.weight`` ->
    (``blk.3.attn_v.weight.lora_a``, ``self_attn.v_proj``)."""
    match = _PEFT_KEY.search(peft_key)
    if not match or match["module"] not in HF_TO_GGUF:
        raise DataFormatError(f"no GGUF tensor for LoRA weight {peft_key!r}")
    stem = HF_TO_GGUF[match["module"]]
    return f"blk.{match['layer']}.{stem}.weight.lora_{match['ab'].lower()}", match["module"]


def export_gguf_lora(
    weights: Mapping[str, np.ndarray],
    path: str | Path,
    *,
    alpha: float,
    n_head: int,
    n_head_kv: int,
    metadata: Mapping[str, str] | None = None,
    dtype: type = np.float16,
) -> Path:
    """Write PEFT LoRA ``weights`` (``get_peft_model_state_dict`` as numpy) to ``path``.

    ``metadata`` entries become ``redline.*`` string keys (base model, PM identity, seed),
    so the file says what it was trained against. Written to a temporary name first so a
    reader never sees half an adapter. Float16 by default: half the size of float32 and
    far below the rounding of the Q4 base model the adapter sits on.
    """
    import gguf

    path = Path(path)
    tensors: dict[str, np.ndarray] = {}
    ranks = set()
    for key, value in weights.items():
        name, module = gguf_tensor_name(key)
        array = np.ascontiguousarray(np.asarray(value, dtype=np.float32))
        if array.ndim != 2:
            raise DataFormatError(f"LoRA weight {key} has shape {array.shape}; expected 2-D")
        if name.endswith(".lora_b") and module in ("self_attn.q_proj", "self_attn.k_proj"):
            heads = n_head if module == "self_attn.q_proj" else n_head_kv
            array = rope_permute(array, heads)
        ranks.add(array.shape[0] if name.endswith(".lora_a") else array.shape[1])
        tensors[name] = np.ascontiguousarray(array.astype(dtype))
    if not tensors:
        raise DataFormatError("no LoRA weights to export")
    if len(ranks) != 1:
        raise DataFormatError(f"LoRA weights of mixed ranks {sorted(ranks)}")
    for name in tensors:
        other = name[:-1] + ("b" if name.endswith("a") else "a")
        if other not in tensors:
            raise DataFormatError(f"{name} has no matching {other}")
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    writer = gguf.GGUFWriter(str(tmp), arch="llama")
    writer.add_string("general.type", "adapter")
    writer.add_string("adapter.type", "lora")
    writer.add_float32("adapter.lora.alpha", float(alpha))
    for meta_key, meta_value in (metadata or {}).items():
        writer.add_string(f"redline.{meta_key}", str(meta_value))
    for name in sorted(tensors):
        writer.add_tensor(name, tensors[name])
    writer.write_header_to_file()
    writer.write_kv_data_to_file()
    writer.write_tensors_to_file()
    writer.close()
    tmp.replace(path)
    return path


def read_gguf_lora(path: str | Path) -> LoraFile:
    """Header facts of an adapter file; raises DataFormatError when it is not a LoRA."""
    import gguf

    path = Path(path)
    try:
        reader = gguf.GGUFReader(str(path))
    except (OSError, ValueError) as exc:
        raise DataFormatError(f"{path}: not a GGUF file ({exc})") from exc

    def field(key: str) -> object | None:
        f = reader.fields.get(key)
        return None if f is None else f.contents()

    if field("general.type") != "adapter" or field("adapter.type") != "lora":
        raise DataFormatError(f"{path}: not a GGUF LoRA adapter (general.type/adapter.type)")
    shapes = {t.name: tuple(int(x) for x in reversed(t.shape.tolist())) for t in reader.tensors}
    ranks = {s[0] for n, s in shapes.items() if n.endswith(".lora_a")}
    meta = {
        k.removeprefix("redline."): str(field(k)) for k in reader.fields if k.startswith("redline.")
    }
    return LoraFile(
        path=path,
        alpha=float(field("adapter.lora.alpha")),  # type: ignore[arg-type]
        rank=min(ranks) if ranks else 0,
        tensors=shapes,
        metadata=meta,
    )


def llamacpp_logits(
    model_path: str | Path,
    tokens: Sequence[int],
    *,
    lora_path: str | Path | None = None,
    scale: float = 1.0,
    n_threads: int = 2,
) -> np.ndarray:
    """Next-token logits after every token, from llama.cpp with an optional LoRA adapter.

    A standalone context (never the backend's shared one) so that checking an export
    cannot disturb a running target; used by the export self-check and the tests.
    """
    import llama_cpp as llc

    from redline.targets.backends.native import NativeModel

    model = NativeModel(Path(model_path))
    adapter = None
    ctx = None
    try:
        params = llc.llama_context_default_params()
        params.n_ctx = max(64, len(tokens) + 8)
        params.n_batch = params.n_ubatch = max(64, len(tokens))
        params.n_threads = params.n_threads_batch = n_threads
        params.no_perf = True
        ctx = llc.llama_init_from_model(model.ptr, params)
        if not ctx:
            raise BackendUnavailable(f"llama.cpp could not create a context for {model_path}")
        if lora_path is not None:
            adapter = llc.llama_adapter_lora_init(model.ptr, str(lora_path).encode())
            if not adapter:
                raise DataFormatError(
                    f"llama.cpp rejected the LoRA adapter {lora_path} for {model_path}"
                )
            adapters = (llc.llama_adapter_lora_p_ctypes * 1)(adapter)
            scales = (ctypes.c_float * 1)(scale)
            if llc.llama_set_adapters_lora(ctx, adapters, 1, scales) != 0:
                raise DataFormatError(f"llama.cpp could not apply the adapter {lora_path}")
        batch = llc.llama_batch_init(len(tokens), 0, 1)
        try:
            for i, tok in enumerate(tokens):
                batch.token[i] = tok
                batch.pos[i] = i
                batch.n_seq_id[i] = 1
                batch.seq_id[i][0] = 0
                batch.logits[i] = 1
            batch.n_tokens = len(tokens)
            if llc.llama_decode(ctx, batch) != 0:
                raise BackendUnavailable("llama_decode failed while checking an adapter")
            rows = [
                np.ctypeslib.as_array(llc.llama_get_logits_ith(ctx, i), shape=(model.n_vocab,))
                for i in range(len(tokens))
            ]
            return np.stack(rows).astype(np.float32)
        finally:
            llc.llama_batch_free(batch)
    finally:
        if ctx:
            llc.llama_free(ctx)
        if adapter:
            llc.llama_adapter_lora_free(adapter)
        model.close()
