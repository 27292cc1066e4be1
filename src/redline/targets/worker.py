"""Targets that run in a model worker process, so a crash in model code fails one turn.

Why: llama.cpp is native code. A kernel that dies (SIGILL on a CPU without an
instruction, SIGSEGV in a matmul kernel, an out-of-memory kill) takes its whole process
with it. In ``redline serve`` that process must not be the web server: every signed-in
red teamer would be disconnected. :class:`ModelWorker` runs the targets in one child
process (built by the registry there, cached as in-process); when the child dies, the
requests it was running get a :class:`BackendError` (the red teamers keep their drafts
and can retry) and the next request starts a fresh child.

Requests are multiplexed over one pipe, each with an id. With cross-request batching on
(``REDLINE_BATCHING``, the default) the child answers each request in its own thread, so
turns that arrive while the model is busy join the embedded backend's running batch;
with it off, the child answers one request at a time, in arrival order. Progress of a
request (``redline.targets.progress``) travels back over the same pipe.
"""

from __future__ import annotations

import itertools
import multiprocessing
import signal
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from multiprocessing.connection import Connection
from typing import Any

from redline import errors
from redline.config import Settings
from redline.errors import BackendError, RedlineError
from redline.targets.backends.switch import batching_enabled
from redline.targets.base import Conversation, Sample, TargetInfo, TargetModel
from redline.targets.progress import ProgressCallback, reporting
from redline.targets.progress import current as current_progress

#: Builds a target by name inside the worker; must be a module-level function (it is
#: pickled into the child).
TargetFactory = Callable[[str, Settings], TargetModel]
#: Requests the child runs at once when batching (more wait in its queue).
MAX_CONCURRENT = 64


def registry_factory(name: str, settings: Settings) -> TargetModel:
    """The default: the registry's targets, built and cached in the worker process."""
    from redline.targets.registry import build_target

    return build_target(name, settings)


def _answer(request: tuple[Any, ...], settings: Settings, factory: TargetFactory,
            send: Callable[[tuple[Any, ...]], None]) -> None:  # fmt: skip
    """Run one request in the child and send its answer (or its error) back."""
    call_id, name, conversation, n, seed = request

    def progress(stage: str, done: int, total: int) -> None:
        send(("progress", call_id, (stage, done, total)))

    try:
        with reporting(progress):
            samples = factory(name, settings).reply(conversation, n, seed)
        answer: tuple[Any, ...] = ("ok", call_id, samples)
    except RedlineError as exc:
        answer = ("error", call_id, (type(exc).__name__, str(exc)))
    except Exception as exc:  # a bug in model code: reported, the worker lives on
        answer = ("error", call_id, ("BackendError", f"the model failed ({type(exc).__name__})"))
    send(answer)


def _serve(conn: Connection, settings: Settings, factory: TargetFactory, concurrent: bool) -> None:
    """The worker's loop: requests in, answers and progress out, until the pipe closes."""
    send_lock = threading.Lock()

    def send(message: tuple[Any, ...]) -> None:
        with send_lock:
            conn.send(message)

    pool = ThreadPoolExecutor(MAX_CONCURRENT, "redline-request") if concurrent else None
    while True:
        try:
            request = conn.recv()
        except EOFError:
            return
        if pool is None:
            _answer(request, settings, factory, send)
        else:
            pool.submit(_answer, request, settings, factory, send)


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


@dataclass(eq=False)
class _Call:
    """A request waiting in the parent for its answer."""

    name: str
    progress: ProgressCallback | None
    done: threading.Event = field(default_factory=threading.Event)
    status: str = ""
    payload: Any = None


class ModelWorker:
    """One child process that builds and runs targets; restarted after a crash."""

    def __init__(
        self,
        settings: Settings,
        factory: TargetFactory = registry_factory,
        *,
        concurrent: bool | None = None,
    ) -> None:
        self.settings = settings
        self.factory = factory
        #: Whether the child runs requests at once (so they can share model batches).
        self.concurrent = batching_enabled() if concurrent is None else concurrent
        self._mp = multiprocessing.get_context("spawn")  # no forked copy of server threads
        self._lock = threading.Lock()
        self._process: Any = None
        self._conn: Connection | None = None
        self._calls: dict[int, _Call] = {}
        self._ids = itertools.count()
        #: How many times a worker died (shown to admins; tests check restarts).
        self.crashes = 0

    def _start(self) -> Connection:
        parent, child = self._mp.Pipe()
        process = self._mp.Process(
            target=_serve,
            args=(child, self.settings, self.factory, self.concurrent),
            name="redline-model-worker",
            daemon=True,
        )
        process.start()
        child.close()
        self._process, self._conn = process, parent
        calls: dict[int, _Call] = {}
        self._calls = calls
        threading.Thread(
            target=self._read, args=(parent, process, calls), name="redline-worker-reader",
            daemon=True,
        ).start()  # fmt: skip
        return parent

    def _read(self, conn: Connection, process: Any, calls: dict[int, _Call]) -> None:
        """Route the child's answers and progress to the waiting calls; on a crash, fail
        every call that was running in it."""
        while True:
            try:
                kind, call_id, payload = conn.recv()
            except (EOFError, OSError):
                break
            with self._lock:
                call = calls.get(call_id)
                if kind != "progress":
                    calls.pop(call_id, None)
            if call is None:
                continue
            if kind == "progress":
                if call.progress is not None:
                    call.progress(*payload)
                continue
            call.status, call.payload = kind, payload
            call.done.set()
        process.join(timeout=5)
        code = process.exitcode
        with self._lock:
            crashed = dict(calls)
            calls.clear()
            if self._conn is conn:
                self._conn = None
            if crashed or code not in (0, None):
                self.crashes += 1
        for call in crashed.values():
            call.status = "crash"
            call.payload = (
                f"the model process for {call.name} crashed ({describe_exit(code)}); it is "
                "restarted for the next request, so try again"
            )
            call.done.set()

    def reply(
        self, name: str, conversation: Conversation, n: int, seed: int | None
    ) -> list[Sample]:
        """Ask the worker for ``n`` replies of target ``name``; BackendError if it dies."""
        call = _Call(name, current_progress())
        with self._lock:
            conn = self._conn
            if conn is None or not self._process.is_alive():
                conn = self._start()
            call_id = next(self._ids)
            self._calls[call_id] = call
            try:
                conn.send((call_id, name, list(conversation), n, seed))
            except (OSError, ValueError):
                self._calls.pop(call_id, None)
                call.status, call.payload = (
                    "crash",
                    (
                        f"the model process for {name} could not be reached; it is restarted "
                        "for the next request, so try again"
                    ),
                )
                self._conn = None
                call.done.set()
        call.done.wait()
        if call.status == "crash":
            raise BackendError(str(call.payload))
        if call.status == "error":
            raise _rebuild_error(*call.payload)
        result: list[Sample] = call.payload
        return result

    def close(self) -> None:
        with self._lock:
            conn, process = self._conn, self._process
            self._conn = None
            self._process = None
        if conn is not None:
            conn.close()
        if process is not None:
            process.join(timeout=5)
            if process.is_alive():
                process.kill()


class WorkerTarget:
    """A target whose replies come from a :class:`ModelWorker` (same TargetModel API)."""

    def __init__(self, info: TargetInfo, worker: ModelWorker) -> None:
        self.info = info
        self.worker = worker

    def reply(
        self, conversation: Conversation, n: int = 2, seed: int | None = None
    ) -> list[Sample]:
        return self.worker.reply(self.info.name, conversation, n, seed)
