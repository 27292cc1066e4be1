"""The cross-request batching switch, apart from the engine so that reading it (the web
process, the CLI) never loads llama.cpp."""

from __future__ import annotations

import os

from redline.errors import ConfigError

#: ``REDLINE_BATCHING=0`` turns cross-request batching off: each request then decodes
#: alone, under its context's lock, and the model worker answers one request at a time
#: (``redline serve --no-batching`` sets it; the load benchmark compares the two).
BATCHING_ENV = "REDLINE_BATCHING"


def batching_enabled() -> bool:
    """Whether embedded models batch across requests (``REDLINE_BATCHING``, default on)."""
    value = os.environ.get(BATCHING_ENV, "1").strip().lower()
    if value in ("1", "on", "true", "yes", ""):
        return True
    if value in ("0", "off", "false", "no"):
        return False
    raise ConfigError(f"{BATCHING_ENV}={value!r}: use 1 (batch requests together) or 0")
