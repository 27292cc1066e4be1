"""The llama.cpp CPU-variant choice, against recorded /proc/cpuinfo of both CPU kinds."""

from __future__ import annotations

from pathlib import Path

import pytest

from redline.errors import ConfigError
from redline.targets.cpu import (
    AVOIDED,
    VARIANT_FLAGS,
    choose_variant,
    has_native_bf16,
    machine_cpu_flags,
    parse_cpu_flags,
    runnable,
)

RECORDED = Path(__file__).parent / "cpuinfo"
ALL = tuple(VARIANT_FLAGS)


def flags_of(name: str) -> frozenset[str]:
    return parse_cpu_flags((RECORDED / name).read_text())


INTEL = flags_of("intel-xeon-amx.txt")
AMD = flags_of("amd-epyc-avx2.txt")


def test_recorded_flag_sets_are_what_they_claim() -> None:
    assert {"avx512f", "avx512_bf16", "amx_tile", "amx_int8"} <= INTEL
    assert {"avx2", "fma", "f16c", "bmi2"} <= AMD
    assert not {f for f in AMD if f.startswith(("avx512", "amx"))}


def test_intel_xeon_gets_avx512_bf16_kernels_without_amx() -> None:
    # sapphirerapids would score best, but its AMX kernel crashed on these Xeons.
    assert runnable("sapphirerapids", INTEL)
    chosen = choose_variant(INTEL, ALL)
    assert chosen == "zen4"
    assert chosen not in AVOIDED
    assert has_native_bf16(chosen)


def test_amd_epyc_gets_the_avx2_kernels() -> None:
    chosen = choose_variant(AMD, ALL)
    assert chosen == "haswell"
    assert not has_native_bf16(chosen)
    # every AVX-512 variant would die with SIGILL there
    assert not any(runnable(v, AMD) for v in ALL if "avx512f" in VARIANT_FLAGS[v])


def test_choice_is_limited_to_the_variants_the_build_has() -> None:
    assert choose_variant(INTEL, ("x64", "haswell", "skylakex")) == "skylakex"
    assert choose_variant(AMD, ("x64", "sse42", "skylakex")) == "sse42"
    with pytest.raises(ConfigError, match=r"no llama\.cpp CPU variant"):
        choose_variant(AMD, ("skylakex", "sapphirerapids"))


def test_forcing_a_variant() -> None:
    assert choose_variant(INTEL, ALL, forced="haswell") == "haswell"
    with pytest.raises(ConfigError, match="lacks"):
        choose_variant(AMD, ALL, forced="zen4")
    with pytest.raises(ConfigError, match=r"not a llama\.cpp CPU variant"):
        choose_variant(AMD, ALL, forced="pentium")
    with pytest.raises(ConfigError, match="no such variant"):
        choose_variant(INTEL, ("haswell",), forced="zen4")


def test_unreadable_cpuinfo_means_no_flags(tmp_path: Path) -> None:
    assert machine_cpu_flags(str(tmp_path / "missing")) == frozenset()
    assert parse_cpu_flags("processor : 0\n") == frozenset()
    # with no flags known only the plain x86-64 build is safe
    assert choose_variant(frozenset(), ALL) == "x64"
