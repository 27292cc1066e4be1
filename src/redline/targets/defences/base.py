"""What a defence declares, and what parsing one of its names gives.

Why a class per defence: adding a defence must be one module (DESIGN.md section 8, as in
garak), so everything the rest of Redline asks about a defence is declared on its class
and read from there: the names it parses (``rs16``), the hh-rlhf label of the model it
makes, whether it ranks samples with a scorer (and which one by default), the
``[[targets]]`` options it reads, and how it wraps a backend into a target.
"""

from __future__ import annotations

import re
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from redline.targets.base import Backend, Scorer, TargetInfo, TargetModel


@dataclass(frozen=True)
class DefenceSpec:
    """A parsed defence name: ``kind`` is the defence's registry name, ``name`` the label
    in target names (``rs16``), ``k`` the sample count of defences that take one."""

    kind: str
    name: str
    model_type: str
    needs_scorer: bool
    k: int | None = None


@dataclass(frozen=True)
class TargetParts:
    """What a defence wraps into a target: the target's ``info``, the ``backend``, the
    rank ``scorer`` (not None when the defence ``needs_scorer``) and sampling settings."""

    info: TargetInfo
    backend: Backend
    scorer: Scorer | None = None
    max_tokens: int = 128
    temperature: float = 0.8


class Defence(ABC):
    """One defence. Subclasses set the class attributes and implement :meth:`build`.

    ``pattern`` is matched (``re.fullmatch``) against the lower-cased label from a target
    name; ``usage`` says how to write it in the error that lists the accepted forms.
    ``scorer`` names the rank scorer (kind ``scorers``) the registry supplies when
    ``needs_scorer`` and the caller gives none. ``options`` are the ``[[targets]]`` fields
    the defence reads, with their types. ``default_max_tokens`` is the reply length when
    the target does not set one.
    """

    name: ClassVar[str]
    pattern: ClassVar[str]
    usage: ClassVar[str]
    model_type: ClassVar[str]
    needs_scorer: ClassVar[bool] = False
    scorer: ClassVar[str | None] = None
    options: ClassVar[Mapping[str, type]] = {}
    default_max_tokens: ClassVar[int] = 128

    @classmethod
    def spec(cls, match: re.Match[str], options: Mapping[str, Any]) -> DefenceSpec:
        """The spec for a label this defence's ``pattern`` matched; ``options`` are the
        target's fields named in :attr:`options`. Raise ConfigError for bad values."""
        return DefenceSpec(cls.name, cls.name, cls.model_type, cls.needs_scorer)

    @classmethod
    @abstractmethod
    def build(cls, spec: DefenceSpec, parts: TargetParts) -> TargetModel:
        """Wrap ``parts.backend`` into the target ``parts.info`` names."""
