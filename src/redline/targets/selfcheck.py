"""Does llama.cpp run on this CPU? One tiny decode in a child process, before ours runs any.

Why a child process: a llama.cpp built for instructions this CPU lacks does not fail, it
dies (SIGILL), and an AMX kernel that misbehaves dies with SIGSEGV. In the web server that
would disconnect every red teamer at their first message. Run first in a child, the same
failure becomes a one-line :class:`BackendUnavailable` (what died, how to rebuild) at the
start of the command.

The child loads the CPU variant Redline chooses (``redline.targets.cpu``) and decodes a
few tokens of the shipped SmolLM2 file (a batch, then one token: both matmul paths). A
passing check is remembered per build, CPU and variant in the user's cache folder
(``$XDG_CACHE_HOME/redline``), so later commands pay only a few ``stat`` calls.
"""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
from pathlib import Path
from typing import Any

from redline.errors import BackendUnavailable
from redline.targets.cpu import ENV_FORCE, forced_variant, machine_cpu_flags

#: The llama.cpp install that the README's commands build (see README, .ci/run).
REBUILD_HINT = (
    'rebuild llama.cpp for this machine: CMAKE_ARGS="-DGGML_NATIVE=OFF -DGGML_BACKEND_DL=ON '
    '-DGGML_CPU_ALL_VARIANTS=ON -DLLAVA_BUILD=OFF" pip install --force-reinstall --no-deps '
    '--no-cache-dir "llama-cpp-python==0.3.36" (`redline doctor` shows what is loaded)'
)
CHECK_TIMEOUT_S = 180.0
#: The child process (a module, so it runs with this interpreter and environment).
CHILD_COMMAND = [sys.executable, "-m", "redline.targets.selfcheck"]

_lock = threading.Lock()
_passed: set[str] = set()


def cache_file() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "redline" / "llama-selfcheck.json"


def check_key() -> str:
    """Identity of what the check vouches for: the build's files, the CPU, the variant."""
    from redline.targets.backends.native import llama_build

    digest = hashlib.sha256()
    for path in llama_build().libraries:
        stat = path.stat()
        digest.update(f"{path}:{stat.st_size}:{stat.st_mtime_ns}\n".encode())
    digest.update(" ".join(sorted(machine_cpu_flags())).encode())
    digest.update(f"\n{forced_variant()}\n{sys.executable}".encode())
    return digest.hexdigest()[:24]


def ensure_llama_runs() -> None:
    """Raise BackendUnavailable unless a tiny decode succeeds in a child process
    (remembered once passed, for this build, CPU and variant)."""
    key = check_key()
    with _lock:
        if _remembered(key):
            _passed.add(key)
            return
        result = run_check()
        _passed.add(key)
        _remember(key, result)


def is_cached() -> bool:
    """Whether a passing check is remembered for this build, CPU and variant."""
    return _remembered(check_key())


def _remembered(key: str) -> bool:
    return key in _passed or _cached(key)


def run_check(timeout_s: float = CHECK_TIMEOUT_S) -> dict[str, Any]:
    """Run the child and return what it reports; raise BackendUnavailable on any failure."""
    from redline.targets.backends.native import SELFCHECK_CHILD_ENV

    env = {**os.environ, SELFCHECK_CHILD_ENV: "1"}
    try:
        done = subprocess.run(
            CHILD_COMMAND,
            env=env,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired as exc:
        raise BackendUnavailable(
            f"llama.cpp's self-check (a 9-token decode) did not finish in {timeout_s:.0f} s; "
            "the machine may be overloaded, or " + REBUILD_HINT
        ) from exc
    if done.returncode < 0:
        sig = signal.Signals(-done.returncode).name
        what = {
            "SIGILL": "an illegal instruction: this llama.cpp build uses instructions this "
            "CPU lacks",
            "SIGSEGV": "a segmentation fault in llama.cpp's kernels",
        }.get(sig, f"signal {sig}")
        forced = f" ({ENV_FORCE} is set: unset it)" if forced_variant() else ""
        raise BackendUnavailable(
            f"llama.cpp crashed on this CPU during its self-check with {what}{forced}; "
            + REBUILD_HINT
        )
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        reason = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise BackendUnavailable(f"llama.cpp's self-check failed: {reason[:400]}")
    report: dict[str, Any] = json.loads(lines[-1])
    return report


def _cached(key: str) -> bool:
    try:
        return bool(json.loads(cache_file().read_text()).get(key))
    except (OSError, ValueError, AttributeError):
        return False


def _remember(key: str, result: dict[str, Any]) -> None:
    """Record a pass atomically (a lost write only means the check runs again)."""
    path = cache_file()
    try:
        try:
            known = json.loads(path.read_text())
            if not isinstance(known, dict):
                known = {}
        except (OSError, ValueError):
            known = {}
        known[key] = result
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".selfcheck.", suffix=".tmp")
        with os.fdopen(fd, "w") as fh:
            json.dump(known, fh)
        os.replace(tmp, path)
    except OSError:
        pass


def _child() -> dict[str, Any]:
    """Decode a few tokens of the shipped SmolLM2 file with the chosen CPU variant."""
    from redline.config import load_settings
    from redline.errors import RedlineError
    from redline.targets.backends.native import (
        ContextConfig,
        NativeContext,
        NativeModel,
        init_backend,
        loaded_variant,
    )
    from redline.targets.catalogue import CATALOGUE

    init_backend()
    report: dict[str, Any] = {"variant": loaded_variant()}
    try:
        path = CATALOGUE["smollm2-135m"].locate(load_settings())
    except RedlineError as exc:  # no model to decode with: the backend loaded at least
        report["model"] = f"none ({exc})"
        return report
    model = NativeModel(path)
    ctx = NativeContext(model, ContextConfig(n_ctx=64, n_threads=1))
    tokens = model.tokenize("Hello, how are you today?", add_special=True, parse_special=False)
    ctx.decode([(t, i, 0, i == len(tokens) - 1) for i, t in enumerate(tokens)], what="checking")
    ctx.decode([(tokens[-1], len(tokens), 0, True)], what="checking")
    report["model"] = path.name
    report["tokens"] = len(tokens) + 1
    ctx.close()
    model.close()
    return report


if __name__ == "__main__":
    print(json.dumps(_child()))
