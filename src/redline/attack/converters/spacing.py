"""Character spacing: a separator between every two characters (PyRIT's
CharacterSpaceConverter), which breaks the words a keyword filter or a refusal habit
keys on while a reader (or a model) still reads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import ClassVar

from redline.attack.converters.base import Converter
from redline.errors import ConfigError
from redline.targets.base import Backend


@dataclass(frozen=True)
class CharacterSpacing:
    """``separator`` (one space by default) between every two characters."""

    name: ClassVar[str] = "spacing"
    description: ClassVar[str] = "a separator (a space by default) between every two characters"
    needs_model: ClassVar[bool] = False
    options: ClassVar[Mapping[str, str]] = {"separator": " "}

    separator: str = " "

    @classmethod
    def build(cls, options: Mapping[str, str], model: Backend | None) -> Converter:
        separator = options.get("separator", " ")
        if not separator:
            raise ConfigError("converter spacing: separator must not be empty")
        return cls(separator)

    def convert(self, text: str, *, seed: int) -> str:
        return self.separator.join(text)
