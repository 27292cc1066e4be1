"""Starting Redline's web server for browser tests: a free port, ``redline serve`` in a
child process over one real target, and waiting until ``/healthz`` answers."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_healthy(
    base: str, alive: Callable[[], bool], what: Callable[[], str], timeout_s: float
) -> None:
    """Poll ``base/healthz`` until it says ok; fail the test with ``what`` otherwise."""
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{base}/healthz", timeout=1).text == "ok":
                return
        except httpx.HTTPError:
            pass
        if not alive() or time.monotonic() > deadline:
            pytest.fail(what())
        time.sleep(0.2)


@contextmanager
def redline_serve(tmp_path: Path, target: str, max_tokens: int, db_url: str) -> Iterator[str]:
    """``redline serve`` offering one real llama.cpp target (SmolLM2) at ``max_tokens``;
    yields the base URL and stops the server (SIGTERM) afterwards."""
    targets = tmp_path / "targets.toml"
    targets.write_text(
        f'[[targets]]\nname = "{target}"\nbackend = "llamacpp"\nmodel = "smollm2-135m"\n'
        f"max_tokens = {max_tokens}\n"
    )
    port = free_port()
    log_path = tmp_path / "server.log"
    with log_path.open("w") as log:
        cmd = [
            sys.executable, "-c", "from redline.cli import main; main()",
            "--data-dir", str(tmp_path / "data"), "--db-url", db_url, "--targets", str(targets),
            "serve", "--port", str(port), "--target", target,
        ]  # fmt: skip
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
        base = f"http://127.0.0.1:{port}"
        try:
            wait_healthy(
                base,
                lambda: proc.poll() is None,
                lambda: f"server did not start: {log_path.read_text()}",
                60,
            )
            yield base
        finally:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                proc.kill()
