"""The defence registry: every defence found the same way, names parsed through it.

Why: a new defence is one module with one :class:`~redline.targets.defences.base.Defence`
class, listed here as a built-in or declared by another package under the entry-point
group ``redline.defences``; parsing a label (``rs16``), the model-type label, whether a
scorer is needed and building the target all read that class, so no other file changes.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from redline.errors import ConfigError
from redline.plugins import Registry, require_attributes
from redline.targets.base import Backend, Scorer, TargetInfo, TargetModel
from redline.targets.defences.base import Defence, DefenceSpec, TargetParts

_PACKAGE = "redline.targets.defences"


def _validate(name: str, obj: Any) -> type[Defence]:
    if not (isinstance(obj, type) and issubclass(obj, Defence)):
        raise ConfigError(f"defence plugin {name!r} ({obj!r}) is not a Defence subclass")
    require_attributes(
        "defence",
        name,
        obj,
        {
            "name": str,
            "pattern": str,
            "usage": str,
            "model_type": str,
            "needs_scorer": bool,
            "scorer": (str, type(None)),
            "options": Mapping,
            "default_max_tokens": int,
        },
    )
    if obj.name != name:
        raise ConfigError(f"defence plugin {name!r} declares name {obj.name!r}")
    if obj.needs_scorer and not obj.scorer:
        raise ConfigError(f"defence plugin {name!r} needs a scorer but names none (scorer)")
    try:
        re.compile(obj.pattern)
    except re.error as exc:
        raise ConfigError(f"defence plugin {name!r}: pattern {obj.pattern!r}: {exc}") from exc
    for option, kind in obj.options.items():
        if not isinstance(option, str) or not isinstance(kind, type):
            raise ConfigError(f"defence plugin {name!r}: options must map names to types")
    return obj


DEFENCES: Registry[type[Defence]] = Registry(
    "defences",
    {
        "plain": f"{_PACKAGE}.plain:PlainDefence",
        "hhh": f"{_PACKAGE}.hhh:HHHDefence",
        "rs": f"{_PACKAGE}.rejection_sampling:RejectionSamplingDefence",
        "rlhf": f"{_PACKAGE}.rlhf:RLHFDefence",
    },
    _validate,
    noun="defence",
)


def parse_defence(name: str, *, k: int | None = None, **options: Any) -> DefenceSpec:
    """Parse a defence label (``plain``, ``hhh``, ``rlhf``, ``rs``, ``rs16``, or one a
    plugin declares); ``k`` and ``options`` are ``[[targets]]`` fields a defence may read
    (``k`` overrides the number in ``rsK``). Raises ConfigError with the accepted forms."""
    label = name.strip().lower()
    if k is not None:
        options["k"] = k
    defences = DEFENCES.load_all().values()
    for defence in defences:
        match = re.fullmatch(defence.pattern, label)
        if match:
            return defence.spec(match, options)
    forms = ", ".join(defence.usage for defence in defences)
    raise ConfigError(f"unknown defence {name!r}; use {forms}")


def defence_class(spec: DefenceSpec) -> type[Defence]:
    """The class that parsed ``spec`` (its metadata: scorer, default reply length)."""
    return DEFENCES.load(spec.kind)


def needs_scorer(defence_label: str) -> bool:
    """Whether targets with this defence label (``rs16``) rank samples with a scorer."""
    return parse_defence(defence_label).needs_scorer


def option_types() -> dict[str, type]:
    """Every ``[[targets]]`` field some defence reads, with its type."""
    return {key: kind for d in DEFENCES.load_all().values() for key, kind in d.options.items()}


def build_defended_target(
    spec: DefenceSpec,
    info: TargetInfo,
    backend: Backend,
    *,
    scorer: Scorer | None = None,
    max_tokens: int = 128,
    temperature: float = 0.8,
) -> TargetModel:
    """Wrap ``backend`` in the defence ``spec``; a defence that ranks samples needs a
    scorer (the target registry supplies the one it names)."""
    defence = defence_class(spec)
    if defence.needs_scorer and scorer is None:
        raise ConfigError(f"target {info.name}: {spec.model_type} ({spec.name}) needs a scorer")
    return defence.build(spec, TargetParts(info, backend, scorer, max_tokens, temperature))
