"""How far a reply has got, for whoever is waiting on it (the chat page's "9 of 16").

Why a context variable and not a parameter: the progress of one turn crosses several
layers (web request -> model worker -> defence -> backend -> batching engine) and most
targets (scripted, OpenAI-compatible) have nothing to report. The waiting code sets a
callback with :func:`reporting`; the backend reads it once when the request is submitted
(:func:`current`) and calls it from whatever thread does the work. A callback must be
cheap and must not raise; errors in it are swallowed so progress can never fail a turn.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar

log = logging.getLogger(__name__)

#: ``callback(stage, done, total)``: stage is "queued" (waiting for the model), "writing"
#: (``done`` of ``total`` sampled replies finished) or "choosing" (rejection sampling
#: ranks its ``total`` samples).
ProgressCallback = Callable[[str, int, int], None]

_current: ContextVar[ProgressCallback | None] = ContextVar("redline_progress", default=None)


@contextmanager
def reporting(callback: ProgressCallback | None) -> Iterator[None]:
    """Send progress of the model work done inside the block to ``callback``."""
    token = _current.set(callback)
    try:
        yield
    finally:
        _current.reset(token)


def current() -> ProgressCallback | None:
    """The callback in effect here, wrapped so that it never raises (None if unset)."""
    callback = _current.get()
    if callback is None:
        return None

    def safe(stage: str, done: int, total: int) -> None:
        try:
            callback(stage, done, total)
        except Exception:  # progress is advisory: never let it fail a reply
            log.debug("progress callback failed", exc_info=True)

    return safe


def report(stage: str, done: int, total: int) -> None:
    """Report to the current callback, if any."""
    callback = current()
    if callback is not None:
        callback(stage, done, total)
