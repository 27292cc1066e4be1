"""Converters by name: ``--converter NAME`` of ``redline attack`` and ``redline replay``.

Why a registry: adding a converter must be one new module, found without importing any
other (listing the names loads no model), and a third party adds theirs from their own
package through the entry-point group ``redline.converters``::

    [project.entry-points."redline.converters"]
    my-converter = "my_package.converter:MyConverter"
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

from redline.errors import ConfigError
from redline.plugins import Registry, check_declared

if TYPE_CHECKING:
    from redline.attack.converters.base import Converter

BUILTINS = {
    "base64": "redline.attack.converters.base64_encoding:Base64",
    "rot13": "redline.attack.converters.rot13:Rot13",
    "leetspeak": "redline.attack.converters.leetspeak:Leetspeak",
    "spacing": "redline.attack.converters.spacing:CharacterSpacing",
    "roleplay": "redline.attack.converters.roleplay:RolePlay",
    "translation": "redline.attack.converters.translation:Translation",
}


def validate(name: str, obj: Any) -> type[Converter]:
    """A converter class declares its name (the registered one), a description, whether
    it needs a model, its options (string names to string defaults), and builds and
    converts."""
    check_declared(
        "converter",
        name,
        obj,
        {"description": str, "needs_model": bool, "options": Mapping},
        ("build", "convert"),
    )
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in obj.options.items()):
        raise ConfigError(f"converter plugin {name!r}: options must map names to defaults")
    if "model" in obj.options:
        raise ConfigError(f"converter plugin {name!r}: 'model' is set by needs_model")
    converter: type[Converter] = obj
    return converter


CONVERTERS: Registry[type[Converter]] = Registry("converters", BUILTINS, validate, noun="converter")
