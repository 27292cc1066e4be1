"""Targets that run in a model worker process, so a crash in model code fails one request.

Why: llama.cpp is native code. A kernel that dies (SIGILL on a CPU without an
instruction, SIGSEGV in a matmul kernel, an out-of-memory kill) takes its whole process
with it. In ``redline serve`` that process must not be the web server: every signed-in
red teamer would be disconnected. :class:`ModelWorker` runs the targets in one child
process (built by the registry there, cached as in-process); when the child dies, the
request that was running gets a :class:`BackendError` (the red teamer keeps the draft and
can retry) and the next request starts a fresh child.

Requests are answered one at a time, in arrival order; llama.cpp's own contexts serialise
on one lock per model anyway, and a 2-core machine has no room for two decodes at once.
"""

from __future__ import annotations

import multiprocessing
import signal
import threading
from collections.abc import Callable
from multiprocessing.connection import Connection
from typing import Any

from redline import errors
from redline.config import Settings
from redline.errors import BackendError, RedlineError
from redline.targets.base import Conversation, Sample, TargetInfo, TargetModel

#: Builds a target by name inside the worker; must be a module-level function (it is
#: pickled into the child).
TargetFactory = Callable[[str, Settings], TargetModel]


def registry_factory(name: str, settings: Settings) -> TargetModel:
    """The default: the registry's targets, built and cached in the worker process."""
    from redline.targets.registry import build_target

    return build_target(name, settings)


def _serve(conn: Connection, settings: Settings, factory: TargetFactory) -> None:
    """The worker's loop: one request in, one answer out, until the pipe closes."""
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        name, conversation, n, seed = request
        try:
            answer: tuple[str, Any] = ("ok", factory(name, settings).reply(conversation, n, seed))
        except RedlineError as exc:
            answer = ("error", (type(exc).__name__, str(exc)))
        except Exception as exc:  # a bug in model code: reported, the worker lives on
            answer = ("error", ("BackendError", f"the model failed ({type(exc).__name__})"))
        conn.send(answer)


def _rebuild_error(kind: str, message: str) -> RedlineError:
    """The worker's error as the same RedlineError class where it can be rebuilt."""
    cls = getattr(errors, kind, None)
    if isinstance(cls, type) and issubclass(cls, RedlineError):
        try:
            return cls(message)
        except TypeError:
            pass
    return BackendError(message)


def describe_exit(code: int | None) -> str:
    if code is None:
        return "it stopped answering"
    if code < 0:
        try:
            return f"killed by {signal.Signals(-code).name}"
        except ValueError:
            return f"killed by signal {-code}"
    return f"exit code {code}"


class ModelWorker:
    """One child process that builds and runs targets; restarted after a crash."""

    def __init__(self, settings: Settings, factory: TargetFactory = registry_factory) -> None:
        self.settings = settings
        self.factory = factory
        self._mp = multiprocessing.get_context("spawn")  # no forked copy of server threads
        self._lock = threading.Lock()
        self._process: Any = None
        self._conn: Connection | None = None
        #: How many times a worker died (shown to admins; tests check restarts).
        self.crashes = 0

    def _start(self) -> Connection:
        parent, child = self._mp.Pipe()
        process = self._mp.Process(
            target=_serve,
            args=(child, self.settings, self.factory),
            name="redline-model-worker",
            daemon=True,
        )
        process.start()
        child.close()
        self._process, self._conn = process, parent
        return parent

    def reply(
        self, name: str, conversation: Conversation, n: int, seed: int | None
    ) -> list[Sample]:
        """Ask the worker for ``n`` replies of target ``name``; BackendError if it dies."""
        with self._lock:
            conn = self._conn
            if conn is None or not self._process.is_alive():
                conn = self._start()
            try:
                conn.send((name, list(conversation), n, seed))
                status, payload = conn.recv()
            except (EOFError, OSError) as exc:
                self._process.join(timeout=5)
                code = self._process.exitcode
                self._conn = None
                self.crashes += 1
                raise BackendError(
                    f"the model process for {name} crashed ({describe_exit(code)}); it is "
                    "restarted for the next request, so try again"
                ) from exc
        if status == "error":
            raise _rebuild_error(*payload)
        result: list[Sample] = payload
        return result

    def close(self) -> None:
        with self._lock:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            if self._process is not None:
                self._process.join(timeout=5)
                if self._process.is_alive():
                    self._process.kill()
                self._process = None


class WorkerTarget:
    """A target whose replies come from a :class:`ModelWorker` (same TargetModel API)."""

    def __init__(self, info: TargetInfo, worker: ModelWorker) -> None:
        self.info = info
        self.worker = worker

    def reply(
        self, conversation: Conversation, n: int = 2, seed: int | None = None
    ) -> list[Sample]:
        return self.worker.reply(self.info.name, conversation, n, seed)
