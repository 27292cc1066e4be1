"""Errors of the red-team task that are neither bad input nor a model failure."""

from __future__ import annotations

from redline.errors import RedlineError


class ConflictError(RedlineError):
    """The request no longer fits the state (the conversation moved on in another tab,
    the attempt is finished...). Reloading the page shows where things stand."""

    http_status = 409
