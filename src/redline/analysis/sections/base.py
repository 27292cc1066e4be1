"""What a report section is given and what it gives back.

A section is one class in one module with metadata as class attributes and a
``build(context)`` method:

- ``name``: registry name, progress step and key of its timing and warnings;
- ``title``: its heading (numbered automatically in registry order), or None for a part
  that continues the section before it under that section's heading;
- ``order``: position in the report (the built-in ones step by 10);
- ``anchor``: the heading's HTML id (default: ``name`` with dashes);
- ``contents``: its line in the table of contents (default: ``title``);
- ``template``: a template of :mod:`redline.analysis` (``"sections/<name>.html"``) that
  lays out the content's ``values``, or None for the generic layout of its notes,
  figures and tables;
- ``start(context)`` (optional): begin slow work before any section builds (the attack
  map runs in its own process while the others compute).

``build`` returns :class:`SectionContent`, or None to leave the section out (no data for
it). Everything shown goes through Jinja2 with autoescaping: transcripts, task
descriptions and tags are adversarial by design.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar, Protocol

import pandas as pd

from redline.analysis.embeddings import Embedder
from redline.review.agreement import RatedItem

Figure = Callable[..., None]  # figure(fig, name, svg=False): save and embed a figure


@dataclass
class SectionContext:
    """The inputs of a report and the shared outputs sections write to."""

    frame: pd.DataFrame  # one row per attempt (see redline.analysis.frame)
    texts: pd.DataFrame  # transcripts of the red-team attempts only
    out: Path  # the folder being written (figures, attack_map.html)
    figure: Figure
    n_boot: int = 1000
    seed: int = 0
    embed: Embedder | None = None
    max_map_points: int = 15_000
    reviews: Sequence[RatedItem] | None = None
    judged: Any = None  # a redline.judges.comparison.JudgedComparison, from a study
    parallel: bool = True
    notes: list[str] = field(default_factory=list)  # shown at the top of the report
    section_notes: dict[str, list[str]] = field(default_factory=dict)  # captured warnings
    timings: dict[str, float] = field(default_factory=dict)
    cpu: dict[str, float] = field(default_factory=dict)
    numbers: dict[str, Any] = field(default_factory=dict)  # tables returned to the caller
    cancel_on_failure: list[Callable[[], None]] = field(default_factory=list)


@dataclass
class SectionContent:
    """What a section shows: ``values`` for its own template, or, for the generic
    layout, paragraphs (``notes``), figure names drawn with ``context.figure`` and
    tables (caption, :func:`redline.analysis.formatting.table`)."""

    values: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)
    tables: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class ReportSection(Protocol):
    """The contract every registered section meets (checked when it is loaded)."""

    name: ClassVar[str]
    title: ClassVar[str | None]
    order: ClassVar[int]

    def build(self, context: SectionContext) -> SectionContent | None: ...


@contextmanager
def captured(notes: dict[str, list[str]], section: str) -> Iterator[None]:
    """Record the warnings a step raises (statsmodels' "Hessian ... not positive
    definite", convergence, runtime warnings) into the section's notes instead of letting
    them reach the terminal; the report states them where they matter."""
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        yield
    seen = notes.setdefault(section, [])
    for w in caught:
        text = f"{w.category.__name__}: {str(w.message).splitlines()[0]}"
        if text not in seen:
            seen.append(text)
