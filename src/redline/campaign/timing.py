"""Model time, reported to whoever is measuring the request around it.

The web app puts a list in :data:`model_seconds` for each request and reports server
time *excluding* model time (the load benchmark needs that split). Outside a request
nothing is collected.
"""

from __future__ import annotations

from contextvars import ContextVar

model_seconds: ContextVar[list[float] | None] = ContextVar("redline_model_seconds", default=None)


def record_model_time(seconds: float) -> None:
    sink = model_seconds.get()
    if sink is not None:
        sink.append(seconds)
