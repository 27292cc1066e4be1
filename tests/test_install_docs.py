"""The llama.cpp build flags are the same wherever they are written down.

Why: the README's commands, CI and the self-check's rebuild hint must build the same
llama.cpp (runtime CPU dispatch); a copy that drifts would leave users with a build that
crashes on half our machines.
"""

from __future__ import annotations

import re
from pathlib import Path

from redline.doctor import TORCH_CPU_INSTALL
from redline.targets.selfcheck import REBUILD_HINT

ROOT = Path(__file__).resolve().parents[1]
FLAGS = re.compile(r'CMAKE_ARGS="([^"]+)"')


def test_readme_ci_and_rebuild_hint_use_the_same_cmake_args() -> None:
    readme = FLAGS.findall((ROOT / "README.md").read_text())
    ci = FLAGS.findall((ROOT / ".ci" / "run").read_text())
    hint = FLAGS.findall(REBUILD_HINT)
    assert len(readme) == 2 and len(ci) == 1 and len(hint) == 1
    assert set(readme) == set(ci) == set(hint)
    flags = readme[0].split()
    assert {"-DGGML_BACKEND_DL=ON", "-DGGML_CPU_ALL_VARIANTS=ON", "-DGGML_NATIVE=OFF"} <= set(flags)
    # no fixed instruction set: those trap (SIGILL) on CPUs without it
    assert not [f for f in flags if re.match(r"-DGGML_(AVX|AMX|FMA|F16C)", f)]


def test_ci_pins_the_llama_cpp_version_pyproject_pins() -> None:
    pyproject = (ROOT / "pyproject.toml").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    version = re.search(r"llama-cpp-python==([0-9.]+)", pyproject)
    assert version is not None
    assert f"LLAMA_VERSION={version.group(1)}" in ci
    assert f"llama-cpp-python=={version.group(1)}" in REBUILD_HINT


def test_readme_ci_and_hints_install_the_cpu_build_of_torch() -> None:
    """An unqualified torch==2.13.0 from PyPI pulls CUDA (several GB of NVIDIA packages)."""
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert readme.count(TORCH_CPU_INSTALL) == 1
    assert TORCH_CPU_INSTALL.replace("pip install", "python -m pip install -q --retries 0") in ci
    assert not re.search(r'install[^\n]*"torch==[0-9.]+"(?! --index-url)', readme + ci)
