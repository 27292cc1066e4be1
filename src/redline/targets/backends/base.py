"""What a backend plugin declares: its ``[[targets]]`` options and how to build it.

Why a declaration apart from the backend: the target registry validates ``[[targets]]``
tables and lists targets in processes that must not load llama.cpp (the web app, ``redline
targets``), so what a backend accepts is read from a light class, and the backend itself
(llama.cpp, an HTTP client) is imported only by :meth:`BackendPlugin.build`. A plugin may
also be the backend class itself when that class is light (``build`` returns ``cls(...)``).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from redline.config import Settings
from redline.targets.base import Backend


@dataclass(frozen=True)
class Option:
    """One ``[[targets]]`` field a backend reads: its type (ints are accepted for floats),
    whether a table must give it, and the value written into the target's config when the
    table does not (None: left out, so the backend's own default applies)."""

    kind: type
    required: bool = False
    default: Any = None
    help: str = ""


class OptionError(Exception):
    """A bad ``[[targets]]`` field (a backend's or the table's own); the target registry
    adds the file and the target's name."""

    def __init__(self, field_name: str, problem: str) -> None:
        super().__init__(f"field '{field_name}': {problem}")
        self.field_name = field_name
        self.problem = problem


@dataclass(frozen=True)
class BackendConfig:
    """A validated table: the ``model`` the backend loads or asks for, the ``options`` it
    is built with, and the parameter count when the model is a known one."""

    model: str
    options: dict[str, Any] = field(default_factory=dict)
    num_params: int | None = None


class BackendPlugin(ABC):
    """One backend kind. ``plugin_name`` is the ``backend = "..."`` value (not ``name``,
    which a built :class:`~redline.targets.base.Backend` uses for the model it runs);
    ``options`` are the fields it reads (``model`` among them)."""

    plugin_name: ClassVar[str]
    options: ClassVar[Mapping[str, Option]]

    @classmethod
    def configure(cls, fields: Mapping[str, Any], base_dir: Path) -> BackendConfig:
        """Check a table's fields (types are checked already) and keep the declared ones,
        defaults filled in; ``base_dir`` resolves relative paths. Raise OptionError."""
        for key, option in cls.options.items():
            if option.required and not fields.get(key):
                raise OptionError(key, f"required for backend {cls.plugin_name!r}")
        kept = {
            key: fields.get(key, option.default)
            for key, option in cls.options.items()
            if key in fields or option.default is not None
        }
        return BackendConfig(str(kept.pop("model", "")), kept)

    @classmethod
    def settings_key(cls, settings: Settings) -> str:
        """What else decides which model a definition loads (local weights depend on the
        data directory); targets share a loaded backend only when this is equal too."""
        return ""

    @classmethod
    @abstractmethod
    def build(cls, model: str, options: Mapping[str, Any], settings: Settings) -> Backend:
        """The backend for a configured target; ``options`` may hold fields of the target
        that are not this backend's (reply length): take only yours."""
