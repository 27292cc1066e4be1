"""One discovery mechanism for every plugin kind: backends, defences, judges, report
sections and attack strategies.

Why one: adding a backend, a defence, a judge, a report section or an attack strategy must
be one new module, found the same way for every kind, without importing what is not used
(llama.cpp, PyTorch, the store), so optional dependencies stay optional and ``--help``
stays fast. Modelled on inspect_ai's and garak's registries, written for our needs.

A plugin is one class (or factory) in one module, named by a ``"module:attribute"`` path.
A :class:`Registry` finds plugins in three places, later ones winning on equal names:

1. its built-in table (name -> path), filled by the package that owns the kind;
2. the Python entry-point group ``redline.<kind>`` of every installed distribution, so a
   third party adds one from their own package::

       [project.entry-points."redline.defences"]
       mydefence = "my_package.defence:MyDefence"

3. :meth:`Registry.register`, for code that builds plugins at run time (and tests).

Nothing is imported until :meth:`Registry.load` asks for that name; the loaded object is
cached. Each kind checks what it loads with its own ``validate`` function (a contract:
declared metadata present and consistent), so a broken third-party plugin fails with a
message naming it, not deep inside a run.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import threading
from collections.abc import Callable, Mapping
from typing import Any, Generic, TypeVar

from redline.errors import ConfigError, NotFoundError

T = TypeVar("T")

ENTRY_POINT_PREFIX = "redline."


def load_path(path: str) -> Any:
    """Import ``"package.module:attribute"`` and return the attribute."""
    module_name, _, attribute = path.partition(":")
    if not module_name or not attribute:
        raise ConfigError(f"plugin path {path!r} must look like 'package.module:Attribute'")
    module = importlib.import_module(module_name)
    try:
        return getattr(module, attribute)
    except AttributeError:
        raise ConfigError(
            f"plugin path {path!r}: module {module_name} has no {attribute}"
        ) from None


class Registry(Generic[T]):
    """Named plugins of one kind, imported on first use.

    ``kind`` names the entry-point group (``redline.<kind>``, plural: ``backends``) and
    ``noun`` one plugin in messages (``backend``);
    ``builtins`` maps names to ``"module:attribute"`` paths; ``validate`` checks a loaded
    plugin (raise :class:`ConfigError` saying what is wrong) and returns it typed.
    """

    def __init__(
        self,
        kind: str,
        builtins: Mapping[str, str],
        validate: Callable[[str, Any], T],
        *,
        noun: str,
    ) -> None:
        self.kind = kind
        self.noun = noun
        self.group = ENTRY_POINT_PREFIX + kind
        self._builtins = dict(builtins)
        self._validate = validate
        self._registered: dict[str, str | Any] = {}
        self._loaded: dict[str, T] = {}
        self._lock = threading.Lock()

    def _paths(self) -> dict[str, str | Any]:
        found: dict[str, str | Any] = dict(self._builtins)
        for ep in importlib.metadata.entry_points(group=self.group):
            found[ep.name] = ep.value
        found.update(self._registered)
        return found

    def names(self) -> list[str]:
        """Every name of this kind (built-in, installed, registered), without importing any."""
        return sorted(self._paths())

    def path(self, name: str) -> str | None:
        """Where ``name`` lives (``"module:attribute"``), or None for an object registered
        directly."""
        found = self._paths().get(name)
        return found if isinstance(found, str) else None

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name in self._paths()

    def register(self, name: str, plugin: str | Any) -> None:
        """Add (or replace) ``name``: a ``"module:attribute"`` path or the object itself."""
        with self._lock:
            self._registered[name] = plugin
            self._loaded.pop(name, None)

    def unregister(self, name: str) -> None:
        """Forget a plugin added with :meth:`register` (built-ins stay)."""
        with self._lock:
            self._registered.pop(name, None)
            self._loaded.pop(name, None)

    def load(self, name: str) -> T:
        """The plugin called ``name``, imported now if it was not before."""
        with self._lock:
            if name in self._loaded:
                return self._loaded[name]
            found = self._paths()
            if name not in found:
                known = ", ".join(sorted(found)) or "none"
                raise NotFoundError(f"unknown {self.noun} {name!r}; known: {known}")
            target = found[name]
            try:
                obj = load_path(target) if isinstance(target, str) else target
            except ImportError as exc:
                raise ConfigError(
                    f"{self.noun} plugin {name!r} ({target}) cannot be imported: {exc}. "
                    "Install the extra it needs, or remove it."
                ) from exc
            plugin = self._validate(name, obj)
            self._loaded[name] = plugin
            return plugin

    def load_all(self) -> dict[str, T]:
        """Every plugin of this kind, loaded (for contract tests and listings that need
        metadata)."""
        return {name: self.load(name) for name in self.names()}


def check_declared(
    noun: str,
    name: str,
    obj: Any,
    attributes: Mapping[str, type | tuple[type, ...]],
    methods: tuple[str, ...] = (),
    name_attribute: str = "name",
) -> None:
    """The contract every kind shares: the metadata ``attributes`` declared with their
    types, the registered name declared in ``name_attribute``, and ``methods`` callable.
    Raises :class:`ConfigError` naming the plugin and what is wrong."""
    require_attributes(noun, name, obj, {name_attribute: str, **attributes})
    declared = getattr(obj, name_attribute)
    if declared != name:
        raise ConfigError(f"{noun} plugin {name!r} declares {name_attribute} {declared!r}")
    for method in methods:
        if not callable(getattr(obj, method, None)):
            raise ConfigError(f"{noun} plugin {name!r} has no {method}()")


def require_attributes(
    kind: str, name: str, obj: Any, attributes: Mapping[str, type | tuple[type, ...]]
) -> None:
    """Raise :class:`ConfigError` unless ``obj`` declares every metadata attribute with the
    right type (a shared piece of each kind's ``validate``)."""
    for attribute, expected in attributes.items():
        if not hasattr(obj, attribute):
            raise ConfigError(f"{kind} plugin {name!r} ({obj!r}) does not declare {attribute!r}")
        value = getattr(obj, attribute)
        if not isinstance(value, expected):
            raise ConfigError(
                f"{kind} plugin {name!r}: {attribute} must be {expected}, "
                f"got {type(value).__name__}"
            )
