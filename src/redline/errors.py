"""One exception hierarchy for everything Redline reports to a person.

The CLI maps any :class:`RedlineError` to exit code 2 and a one-line message; the web app
maps it to a friendly page with :attr:`RedlineError.http_status`. Anything else is a bug.
"""

from __future__ import annotations


class RedlineError(Exception):
    """Base class: a problem the user can fix, described in one line (what, where, how)."""

    http_status = 400


class ConfigError(RedlineError):
    """Settings, target definitions or the environment are wrong."""


class DataFormatError(RedlineError):
    """An input file does not follow the expected format.

    The message names the file, the record (line number or array index) and the field.
    """

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        record: str | None = None,
        field: str | None = None,
    ) -> None:
        self.path = path
        self.record = record
        self.field = field
        where = ", ".join(
            part
            for part in (
                path,
                record,
                f"field '{field}'" if field else None,
            )
            if part
        )
        super().__init__(f"{where}: {message}" if where else message)


class StoreError(RedlineError):
    """The database cannot be opened, migrated or written."""


class NotFoundError(RedlineError):
    """A named object (attempt, target, model...) does not exist."""

    http_status = 404


class ConflictError(RedlineError):
    """The request no longer fits the state (another tab moved the conversation on, a
    review was already submitted...). Reloading the page shows where things stand."""

    http_status = 409


class PermissionDenied(RedlineError):
    """The current person may not do this."""

    http_status = 403


class BackendError(RedlineError):
    """A language-model backend failed (unavailable, timed out, empty output...)."""

    http_status = 503


class BackendUnavailable(BackendError):
    """The backend cannot be reached or loaded."""


class BackendTimeout(BackendError):
    """The backend did not answer within its timeout."""


class ContextOverflow(BackendError):
    """The prompt does not fit in the model's context even after dropping old turns."""


class EmptyGeneration(BackendError):
    """The model returned no text."""
