"""What a converter is, how ``--converter`` names a chain of them, and how a chain runs.

Why this shape:

- a converter is one class in one module declaring ``name``, ``description``,
  ``needs_model`` and its ``options`` (name -> default), registered like every other
  plugin kind (:mod:`.registry`), so adding one is one module;
- attacks run in worker processes, where a loaded model cannot be sent, so the main
  process parses ``--converter`` into :class:`ConverterSpec` values (small, picklable,
  carrying a recipe of the model when one is needed) and each worker builds the
  converters once (:func:`build_chain`);
- a spec's :attr:`~ConverterSpec.label` names exactly what changes the output (the
  converter, its non-default options, its model), so it is part of every store key: a
  converted run is new work and a rerun of it resumes;
- a small model may translate into nothing; one bad step must not cost the attack, so a
  failed step (:class:`ConversionFailed`, or an empty output) is recorded and its input
  passed on unchanged (:func:`apply_chain`), while a backend that is down
  (:class:`~redline.errors.BackendError`) fails the conversation, which the next run
  retries.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import ClassVar, Protocol

from redline.attack.converters.registry import CONVERTERS
from redline.errors import ConfigError, RedlineError
from redline.targets.base import Backend

#: Separates converters in one ``--converter`` value; ``:`` separates a converter's
#: options (``translation:language=Scots Gaelic:model=gemma3-270m``).
CHAIN_SEPARATOR = ","
OPTION_SEPARATOR = ":"
#: The option every converter that needs a model takes: the target whose backend runs it.
MODEL_OPTION = "model"


class ConversionFailed(RedlineError):
    """A converter could not convert this text (its model wrote nothing usable); the
    chain records the reason and passes the text on unchanged."""


class ModelFactory(Protocol):
    """A picklable recipe for the backend a converter runs (``name`` identifies it)."""

    @property
    def name(self) -> str: ...

    def __call__(self) -> Backend: ...


class Converter(Protocol):
    """One way to rewrite a human message; registered under ``name``
    (``--converter NAME``)."""

    #: The registered name.
    name: ClassVar[str]
    #: One line for ``--help`` and listings.
    description: ClassVar[str]
    #: True when :meth:`build` needs a backend (``model=TARGET`` chooses it).
    needs_model: ClassVar[bool]
    #: Every option it reads, with its default (``--converter NAME:OPTION=VALUE``).
    options: ClassVar[Mapping[str, str]]

    @classmethod
    def build(cls, options: Mapping[str, str], model: Backend | None) -> Converter:
        """A converter with ``options`` (every declared one, defaults filled in); raise
        :class:`ConfigError` on a bad value. ``model`` is None when the caller only
        checks the options (parsing ``--converter`` in the main process)."""
        ...

    def convert(self, text: str, *, seed: int) -> str:
        """``text`` converted (deterministic for a seed); raise
        :class:`ConversionFailed` (or return "") when it cannot be."""
        ...


class Stateless:
    """A converter without a model or state: :meth:`build` checks nothing and makes one."""

    @classmethod
    def build(cls, options: Mapping[str, str], model: Backend | None) -> Converter:
        instance: Converter = cls()  # type: ignore[assignment]
        return instance


@dataclass(frozen=True)
class ConverterSpec:
    """One converter of a chain, as the main process parsed it: its ``name``, the
    options given (sorted ``(name, value)`` pairs, defaults left out) and the recipe of
    its model (None unless it needs one)."""

    name: str
    options: tuple[tuple[str, str], ...] = ()
    model: ModelFactory | None = None

    @property
    def label(self) -> str:
        """``name[:option=value...][:model=NAME]``: what is stored and keyed."""
        parts = [self.name, *(f"{k}={v}" for k, v in self.options)]
        if self.model is not None:
            parts.append(f"{MODEL_OPTION}={self.model.name}")
        return OPTION_SEPARATOR.join(parts)

    def build(self) -> Converter:
        """The converter itself (in a worker: loads its model, once per process)."""
        from redline.attack.runtime import cached

        cls = CONVERTERS.load(self.name)
        model = cached(self.model, self.model) if self.model is not None else None
        return cls.build({**cls.options, **dict(self.options)}, model)


def chain_label(specs: Sequence[ConverterSpec]) -> str:
    """The whole chain in one string (store keys), ``""`` for no converters."""
    return CHAIN_SEPARATOR.join(spec.label for spec in specs)


def _parse_one(
    item: str, model: Callable[[str], ModelFactory], default_model: str
) -> ConverterSpec:
    name, *pairs = [part.strip() for part in item.split(OPTION_SEPARATOR)]
    cls = CONVERTERS.load(name)
    given: dict[str, str] = {}
    for pair in pairs:
        key, sep, value = (s.strip() for s in pair.partition("="))
        allowed = [*cls.options, *([MODEL_OPTION] if cls.needs_model else [])]
        if not sep or key not in allowed:
            known = ", ".join(allowed) or "none"
            raise ConfigError(
                f"--converter {item!r}: {pair!r} is not OPTION=VALUE of converter {name!r} "
                f"(its options: {known})"
            )
        given[key] = value
    model_name = given.pop(MODEL_OPTION, default_model) if cls.needs_model else None
    cls.build({**cls.options, **given}, None)  # checks the values; no model is loaded
    options = tuple(sorted((k, v) for k, v in given.items() if v != cls.options[k]))
    return ConverterSpec(name, options, model(model_name) if model_name else None)


def parse_converters(
    values: Sequence[str] | None,
    *,
    model: Callable[[str], ModelFactory],
    default_model: str,
) -> tuple[ConverterSpec, ...]:
    """``--converter`` values (each one name or a comma list, applied in order) as specs;
    ``model`` makes the recipe of a named target's backend for converters that need one
    (``model=NAME``, else ``default_model``). Unknown names and options are refused
    here, before any work."""
    items = [
        item.strip()
        for value in values or ()
        for item in value.split(CHAIN_SEPARATOR)
        if item.strip()
    ]
    return tuple(_parse_one(item, model, default_model) for item in items)


@dataclass
class Converted:
    """A text after a chain: what the target sees, and each step that failed
    (``"label: reason"``; its input went on unchanged)."""

    text: str
    failures: list[str] = field(default_factory=list)


def build_chain(specs: Sequence[ConverterSpec]) -> list[tuple[str, Converter]]:
    """Each spec's label and built converter, once per process per spec."""
    from redline.attack.runtime import cached

    return [(spec.label, cached(("converter", spec), spec.build)) for spec in specs]


def apply_chain(chain: Sequence[tuple[str, Converter]], text: str, *, seed: int) -> Converted:
    """``text`` through every converter in order; step ``j`` gets its own seed."""
    out = Converted(text)
    for step, (label, converter) in enumerate(chain):
        try:
            converted = converter.convert(out.text, seed=(seed + 1009 * step) % 2**31)
        except ConversionFailed as exc:
            out.failures.append(f"{label}: {exc}")
            continue
        if not converted.strip():
            out.failures.append(f"{label}: empty output")
            continue
        out.text = converted
    return out
