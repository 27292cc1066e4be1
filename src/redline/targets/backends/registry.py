"""The backend registry: ``backend = "..."`` in a ``[[targets]]`` table, found by name.

Why: adding a backend must be one module (a :class:`~redline.targets.backends.base.
BackendPlugin`), listed here as a built-in or declared by another package under the
entry-point group ``redline.backends``; the target registry validates tables and builds
backends from the declarations alone.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from redline.errors import ConfigError
from redline.plugins import Registry, check_declared
from redline.targets.backends.base import BackendPlugin, Option

#: The backend of a table that names none and gives no field only another one reads.
DEFAULT_BACKEND = "llamacpp"


def _validate(name: str, obj: Any) -> type[BackendPlugin]:
    if not (isinstance(obj, type) and issubclass(obj, BackendPlugin)):
        raise ConfigError(f"backend plugin {name!r} ({obj!r}) is not a BackendPlugin subclass")
    check_declared("backend", name, obj, {"options": Mapping}, name_attribute="plugin_name")
    for key, option in obj.options.items():
        if not isinstance(key, str) or not isinstance(option, Option):
            raise ConfigError(f"backend plugin {name!r}: options must map names to Option")
    return obj


BACKENDS: Registry[type[BackendPlugin]] = Registry(
    "backends",
    {
        "llamacpp": "redline.targets.backends.plugins.llamacpp:LlamaCppPlugin",
        "openai": "redline.targets.backends.plugins.openai:OpenAIPlugin",
    },
    _validate,
    noun="backend",
)
