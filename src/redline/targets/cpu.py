"""Which of llama.cpp's CPU kernel builds this machine runs, decided from its CPU flags.

Why Redline chooses and not ggml: the install builds llama.cpp once for every x86 level
(``GGML_BACKEND_DL=ON`` with ``GGML_CPU_ALL_VARIANTS=ON``: one ``libggml-cpu-<variant>.so``
per level, loaded at run time), so the same build runs on an AVX2-only AMD EPYC and on an
AMX Xeon. ggml's own loader would take the best-scoring variant, which on AMX Xeons is
``sapphirerapids``, and its AMX matmul kernel crashed there (SIGSEGV) when this project
built llama.cpp natively. Redline therefore takes the runnable variant with the most
features *without* AMX: ``zen4`` on those Xeons (AVX-512 with BF16, so the BF16 weights
keep their speed) and ``haswell`` on AVX2 machines.

This module is pure logic over flag sets (tested against recorded ``/proc/cpuinfo`` lines
of both CPU kinds, since one machine cannot run the other's code); ``native.py`` loads the
chosen file. ``REDLINE_LLAMA_CPU=<variant>`` forces a variant (benchmarks use
``haswell`` to measure the AVX2 kernels on an AVX-512 machine); a forced variant this CPU
cannot run is refused, because it would die with SIGILL.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Iterable
from pathlib import Path

from redline.errors import ConfigError

#: What ggml's ``GGML_AVX512`` option compiles for (-mavx512f -mavx512cd -mavx512vl ...).
_AVX512 = ("avx512f", "avx512cd", "avx512vl", "avx512dq", "avx512bw")
_HASWELL = ("sse4_2", "avx", "f16c", "fma", "avx2", "bmi2")

#: ggml's x86 CPU variants (ggml/src/CMakeLists.txt, llama-cpp-python 0.3.36) and the
#: /proc/cpuinfo flags each one is compiled for.
VARIANT_FLAGS: dict[str, frozenset[str]] = {
    "x64": frozenset(),
    "sse42": frozenset({"sse4_2"}),
    "sandybridge": frozenset({"sse4_2", "avx"}),
    "ivybridge": frozenset({"sse4_2", "avx", "f16c"}),
    "piledriver": frozenset({"sse4_2", "avx", "f16c", "fma"}),
    "haswell": frozenset(_HASWELL),
    "skylakex": frozenset({*_HASWELL, *_AVX512}),
    "cannonlake": frozenset({*_HASWELL, *_AVX512, "avx512vbmi"}),
    "cascadelake": frozenset({*_HASWELL, *_AVX512, "avx512_vnni"}),
    "icelake": frozenset({*_HASWELL, *_AVX512, "avx512vbmi", "avx512_vnni"}),
    "cooperlake": frozenset({*_HASWELL, *_AVX512, "avx512_vnni", "avx512_bf16"}),
    "zen4": frozenset({*_HASWELL, *_AVX512, "avx512vbmi", "avx512_vnni", "avx512_bf16"}),
    "alderlake": frozenset({*_HASWELL, "avx_vnni"}),
    "sapphirerapids": frozenset(
        {*_HASWELL, *_AVX512, "avx512vbmi", "avx512_vnni", "avx512_bf16", "amx_tile", "amx_int8"}
    ),
}

#: Variants Redline never chooses by itself (AMX kernels crashed on the Xeons we run on).
AVOIDED = frozenset({"sapphirerapids"})
#: The weakest variant Redline's speed figures and defaults are made for.
BASELINE = "haswell"
ENV_FORCE = "REDLINE_LLAMA_CPU"


def parse_cpu_flags(cpuinfo: str) -> frozenset[str]:
    """The ``flags`` of the first processor in a /proc/cpuinfo text (empty if none)."""
    for line in cpuinfo.splitlines():
        key, sep, value = line.partition(":")
        if sep and key.strip() == "flags":
            return frozenset(value.split())
    return frozenset()


@functools.cache
def machine_cpu_flags(cpuinfo: str = "/proc/cpuinfo") -> frozenset[str]:
    """This machine's CPU flags (empty where /proc/cpuinfo cannot be read)."""
    try:
        return parse_cpu_flags(Path(cpuinfo).read_text(errors="replace"))
    except OSError:
        return frozenset()


def runnable(variant: str, flags: frozenset[str]) -> bool:
    """Whether a CPU with ``flags`` has every instruction set ``variant`` was built for."""
    return VARIANT_FLAGS[variant] <= flags


def choose_variant(
    flags: frozenset[str], available: Iterable[str], forced: str | None = None
) -> str:
    """The variant to load: ``forced`` if given (and runnable), else the runnable one with
    the most instruction sets, leaving out :data:`AVOIDED`.

    ``available`` are the variants the installed build has. Raises ConfigError when
    nothing fits, naming what is missing and how to fix it.
    """
    have = [v for v in available if v in VARIANT_FLAGS]
    if forced:
        if forced not in VARIANT_FLAGS:
            raise ConfigError(
                f"{ENV_FORCE}={forced!r} is not a llama.cpp CPU variant; use one of "
                f"{', '.join(VARIANT_FLAGS)} or unset it"
            )
        if forced not in have:
            raise ConfigError(
                f"{ENV_FORCE}={forced!r}: this llama.cpp build has no such variant "
                f"(it has {', '.join(sorted(have)) or 'none'}); unset it"
            )
        missing = VARIANT_FLAGS[forced] - flags
        if flags and missing:
            raise ConfigError(
                f"{ENV_FORCE}={forced!r} needs {', '.join(sorted(missing))}, which this CPU "
                "lacks (it would die with an illegal instruction); unset it"
            )
        return forced
    fits = [v for v in have if v not in AVOIDED and runnable(v, flags)]
    if not fits:
        raise ConfigError(
            "no llama.cpp CPU variant of this build runs on this CPU "
            f"(build has {', '.join(sorted(have)) or 'none'}); reinstall llama-cpp-python "
            "as the README says"
        )
    return max(fits, key=lambda v: (len(VARIANT_FLAGS[v]), v))


def forced_variant() -> str | None:
    """The variant named by REDLINE_LLAMA_CPU, if any."""
    return os.environ.get(ENV_FORCE) or None


def has_native_bf16(variant: str) -> bool:
    """Whether the variant's kernels multiply BF16 natively (then BF16 weights are fast)."""
    return "avx512_bf16" in VARIANT_FLAGS.get(variant, frozenset())
