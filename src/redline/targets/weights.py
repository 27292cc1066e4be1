"""The weights file llama.cpp runs: the GGUF as shipped, or a copy of it made once.

Why: the shipped SmolLM2-135M file is Q4_1, which has llama.cpp's slowest CPU kernels.
Converted once by llama.cpp's own ``llama_model_quantize`` into a format the loaded CPU
kernels (``redline.targets.cpu``) handle well, the same weights generate faster. With
native BF16 (the ``zen4`` variant on our AVX512-BF16 Xeons) a BF16 copy samples 16
candidates in 1.69 s instead of 3.63 s (``benchmarks/sampling_bench.py --threads 2``);
with AVX2 only (``haswell``, AMD EPYCs) BF16 is emulated and slow, and ``auto`` takes
:data:`AUTO_WITHOUT_BF16` (measured in the README). Every copy format here is
near-lossless from a 4-bit source: BF16 and F16 keep each Q4_1 weight (scale * q + min)
up to 16-bit rounding, Q8_0 to 8 bits per 32-weight block. Files over 1 GiB are never
converted by ``auto`` (large models are bound by memory bandwidth, where 4-bit wins).

The setting ``llama_weights`` (``--llama-weights``, ``REDLINE_LLAMA_WEIGHTS``,
``llama_weights`` in redline.toml) is ``auto`` (default), ``shipped``, or a copy format
(``bf16``, ``f16``, ``q8_0``). A copy lives in ``settings.models_dir`` as
``<stem>.<format>.gguf``; a marker next to it records which source it was made from, so
a changed source is converted again and an unchanged one never is.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import tempfile
import threading
from pathlib import Path

from redline.config import Settings, check_llama_weights
from redline.errors import BackendUnavailable
from redline.targets.cpu import has_native_bf16, machine_cpu_flags

GGUF_MAGIC = b"GGUF"
#: Copy formats and their llama.cpp ``llama_ftype`` (LLAMA_FTYPE_MOSTLY_*).
COPY_FTYPES = {"bf16": 32, "f16": 1, "q8_0": 7}
#: /proc/cpuinfo flags of CPUs that multiply BF16 natively (used for builds without
#: CPU variants, where the flags are all Redline knows of the kernels).
BF16_CPU_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})
#: ``general.file_type`` values already at full precision (F32, F16, BF16).
FULL_PRECISION_FILE_TYPES = frozenset({0, 1, 32})
#: What ``auto`` runs with kernels that have no native BF16 (AVX2 machines). Measured with
#: ``REDLINE_LLAMA_CPU=haswell benchmarks/decode_width_bench.py --threads 1`` (64 steps):
#: Q8_0 evaluates prompts 1.5-2x faster than the shipped Q4_1 and decodes 16 rows in
#: 10.5-11.1 s against 13.9-16.2 s, as fast as the lossy 4-bit repacked formats (Q4_0
#: 13.4 s, IQ4_NL 10.5 s, Q4_K 13.3 s); F16 and emulated BF16 are slower at 1-2 rows.
#: ``redline study --limit 10`` on the haswell kernels: 16.6 replays/min (Q8_0) against
#: 14.1 (Q4_1).
AUTO_WITHOUT_BF16 = "q8_0"

#: ``auto`` converts only shipped files up to this size (see :func:`weights_choice`).
AUTO_MAX_SOURCE_BYTES = 1 << 30

_convert_lock = threading.Lock()
_file_types: dict[tuple[str, int, int], int | None] = {}


def kernels_have_bf16() -> bool:
    """Whether the llama.cpp kernels this process runs multiply BF16 natively: decided by
    the CPU variant Redline loads (a forced ``haswell`` has none, even on a BF16 CPU), or
    by the CPU flags for a build with one built-in CPU backend."""
    from redline.targets.backends.native import planned_variant

    variant = planned_variant()
    if variant is None:
        return bool(BF16_CPU_FLAGS & machine_cpu_flags())
    return has_native_bf16(variant)


def weights_choice(settings: Settings, size_bytes: int = 0) -> str:
    """``shipped`` or a copy format (``bf16``, ``f16``, ``q8_0``): the setting, with
    ``auto`` decided by the CPU kernels and by the size of the shipped file.

    Why the size: small models (the built-in 135M and 270M) are compute-bound on a CPU, so
    the fastest kernels win; a multi-GB model is bound by memory bandwidth, where a 16-bit
    copy (about 4x a 4-bit file) would be slower and fill the disk.
    """
    check_llama_weights(settings.llama_weights, "Settings.llama_weights")
    if settings.llama_weights != "auto":
        return settings.llama_weights
    if size_bytes > AUTO_MAX_SOURCE_BYTES:
        return "shipped"
    return "bf16" if kernels_have_bf16() else AUTO_WITHOUT_BF16


def converted_path(path: Path, settings: Settings, fmt: str = "bf16") -> Path:
    """Where the ``fmt`` copy of ``path`` lives."""
    return settings.models_dir / f"{path.stem}.{fmt}.gguf"


def runtime_weights(path: Path, settings: Settings) -> Path:
    """The GGUF file llama.cpp should load for the model file ``path``.

    ``shipped`` (or ``auto`` on a CPU without native BF16) returns ``path``; otherwise the
    copy, converted on first use and reused after. A source that is already F32, F16
    or BF16 is returned as it is. Raises BackendUnavailable when the conversion fails
    (nothing is left in the models directory then) and ConfigError for a bad setting.
    """
    try:
        size = path.stat().st_size
    except OSError:
        size = 0  # a missing file fails below with a clear BackendUnavailable
    fmt = weights_choice(settings, size)
    if fmt == "shipped":
        return path
    target = converted_path(path, settings, fmt)
    with _convert_lock:
        if _up_to_date(path, target):
            return target
        source_type = _file_type(path)
        if source_type == COPY_FTYPES[fmt] or (
            fmt != "q8_0" and source_type in FULL_PRECISION_FILE_TYPES
        ):
            return path  # already in that format, or at full precision
        _convert(path, target, fmt)
        return target


def _marker(target: Path) -> Path:
    return target.with_name(target.name + ".source")


def file_fingerprint(path: Path) -> str:
    """Cheap identity of a model file (name, size, first MiB): tells GGUF files apart for
    the copy's marker and for preference-model feature ids and caches."""
    digest = hashlib.sha256()
    stat = path.stat()
    digest.update(f"{path.name}:{stat.st_size}".encode())
    with path.open("rb") as fh:
        digest.update(fh.read(1 << 20))
    return digest.hexdigest()[:16]


def _up_to_date(source: Path, target: Path) -> bool:
    """A complete GGUF copy made from this very source (checked by the marker)."""
    try:
        with target.open("rb") as fh:
            if fh.read(4) != GGUF_MAGIC:
                return False
        recorded = json.loads(_marker(target).read_text())
        stat = target.stat()
        return bool(
            recorded.get("source") == file_fingerprint(source)
            and recorded.get("size") == stat.st_size
            and recorded.get("mtime_ns") == stat.st_mtime_ns
        )
    except (OSError, ValueError, AttributeError):
        return False


def _file_type(path: Path) -> int | None:
    """``general.file_type`` of a GGUF file (read by llama.cpp, vocabulary only), or None."""
    import llama_cpp as llc

    from redline.targets.backends.native import init_backend

    try:
        stat = path.stat()
    except OSError:
        return None
    key = (str(path.absolute()), stat.st_size, stat.st_mtime_ns)
    if key in _file_types:
        return _file_types[key]
    init_backend()
    params = llc.llama_model_default_params()
    params.vocab_only = True
    ptr = llc.llama_model_load_from_file(str(path).encode(), params)
    value: int | None = None
    if ptr:
        try:
            buf = ctypes.create_string_buffer(32)
            if llc.llama_model_meta_val_str(ptr, b"general.file_type", buf, len(buf)) >= 0:
                value = int(buf.value)
        except ValueError:
            value = None
        finally:
            llc.llama_model_free(ptr)
    _file_types[key] = value
    return value


def _convert(source: Path, target: Path, fmt: str) -> None:
    """Write the ``fmt`` copy under a unique temporary name, then rename it into place, so a
    crash or a second process never leaves (or reads) half a file."""
    import llama_cpp as llc

    from redline.targets.backends.native import init_backend

    init_backend()  # before llama_model_quantize, so llama.cpp's log stays silent
    fix = (
        'set REDLINE_LLAMA_WEIGHTS=shipped (or llama_weights = "shipped" in redline.toml) '
        "to run the file as shipped; REDLINE_LLAMA_LOG=1 shows llama.cpp's reason"
    )
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp_name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(fd)
    except OSError as exc:
        raise BackendUnavailable(
            f"cannot write the copy of {source} into {target.parent} ({exc}); {fix}"
        ) from exc
    tmp = Path(tmp_name)
    try:
        params = llc.llama_model_quantize_default_params()
        params.ftype = COPY_FTYPES[fmt]
        params.allow_requantize = True
        rc = llc.llama_model_quantize(str(source).encode(), str(tmp).encode(), ctypes.byref(params))
        if rc != 0:
            raise BackendUnavailable(
                f"llama.cpp could not convert {source} to {fmt} (llama_model_quantize "
                f"returned {rc}): the file is corrupt, truncated or not a GGUF model, or "
                f"{target.parent} is full or not writable; {fix}"
            )
        tmp.chmod(0o644)  # mkstemp made it private; the model is not
        os.replace(tmp, target)
        stat = target.stat()
        record = {
            "source": file_fingerprint(source),
            "size": stat.st_size,
            "mtime_ns": stat.st_mtime_ns,
        }
        marker_tmp = tmp.with_name(tmp.name + ".source")
        marker_tmp.write_text(json.dumps(record) + "\n")
        os.replace(marker_tmp, _marker(target))
    except OSError as exc:
        raise BackendUnavailable(
            f"cannot write the copy of {source} to {target} ({exc}); {fix}"
        ) from exc
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_name(tmp.name + ".source").unlink(missing_ok=True)
