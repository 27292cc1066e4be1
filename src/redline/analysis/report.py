"""``report.html``: every analysis of the store in one self-contained page.

Pure function of two frames (:func:`attempts_frame`, :func:`transcripts_frame`): it works
the same on an imported hh-rlhf dataset and on campaign data. The page is the registered
report sections (:mod:`redline.analysis.sections`) in order, numbered as they come, so a
new section is one new module. Figures are PNG files next to the page and embedded in it
(base64), so the page can be mailed alone; the interactive attack map is a separate page
with plotly.js beside it. All text goes through Jinja2 with autoescaping: transcripts,
task descriptions and tags are adversarial by design.
"""

from __future__ import annotations

import base64
import importlib.resources
import os
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import ChoiceLoader, Environment, FunctionLoader, PackageLoader, select_autoescape
from markupsafe import Markup

from redline.analysis import figures as figs
from redline.analysis.embeddings import Embedder
from redline.analysis.labels import CAPTION
from redline.analysis.sections import anchor, ordered
from redline.analysis.sections.base import SectionContent, SectionContext, captured
from redline.analysis.tables import counts
from redline.review.agreement import RatedItem

Progress = Callable[[str], None]
GENERIC = "sections/generic.html"


@dataclass
class ReportResult:
    path: Path
    figures: list[Path]
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # captured, stated in the report
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per step


def _png(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _package_template(name: str) -> str | None:
    """``"package:file.html"``: a template shipped beside a section outside analysis."""
    package, sep, resource = name.partition(":")
    if not sep:
        return None
    return importlib.resources.files(package).joinpath(resource).read_text(encoding="utf-8")


def _environment() -> Environment:
    return Environment(
        loader=ChoiceLoader(
            [PackageLoader("redline.analysis", "templates"), FunctionLoader(_package_template)]
        ),
        autoescape=select_autoescape(["html", "j2"], default=True, default_for_string=True),
    )


def _replace_dir(built: Path, out: Path) -> None:
    """Move the finished folder into place; an earlier report there is removed only
    after the new one has been moved in, so a failure leaves either the old or the new."""
    old: Path | None = None
    if out.exists():
        old = Path(tempfile.mkdtemp(prefix=f".{out.name}.old-", dir=out.parent))
        os.replace(out, old / out.name)
    os.replace(built, out)
    if old is not None:
        shutil.rmtree(old, ignore_errors=True)


def build_report(
    frame: pd.DataFrame,
    texts: pd.DataFrame,
    out_dir: str | Path,
    *,
    embed: Embedder | None = None,
    n_boot: int = 1000,
    seed: int = 0,
    max_map_points: int = 15_000,
    progress: Progress | None = None,
    title: str = "Redline red-team report",
    reviews: Sequence[RatedItem] | None = None,
    parallel: bool = True,
    judged: Any = None,
) -> ReportResult:
    """Run every analysis and write figures and ``report.html`` into ``out_dir``.

    Everything is written into a temporary folder beside ``out_dir`` and moved into
    place at the end, so a failed run leaves no partial figures behind. ``reviews``
    (finished reviews with the authors' ratings) adds the inter-rater agreement section.
    """
    out = Path(out_dir)
    figures: list[Path] = []
    images: dict[str, str] = {}
    with _staged(out) as work:

        def figure(fig: Any, name: str, svg: bool = False) -> None:
            paths = figs.save(fig, work, name, svg=svg)
            figures.extend(paths)
            images[name] = _png(paths[0])

        # Comparison pairs and other records without a target are not red-team attempts:
        # they stay out of the text analyses (templates, PII, attack map) as out of Table 1.
        red = set(frame.loc[frame["model_type"].notna(), "attempt_id"]) if len(frame) else set()
        context = SectionContext(
            frame,
            texts[texts["attempt_id"].isin(red)].reset_index(drop=True),
            work,
            figure,
            n_boot=n_boot,
            seed=seed,
            embed=embed,
            max_map_points=max_map_points,
            reviews=reviews,
            judged=judged,
            parallel=parallel,
        )
        _build(context, images, title=title, progress=progress)
    warned = [f"{k}: {n}" for k, ns in context.section_notes.items() for n in ns]
    return ReportResult(
        out / "report.html",
        [out / p.name for p in figures],
        context.timings,
        context.notes,
        context.numbers,
        warnings=warned,
        cpu=context.cpu,
    )


@contextmanager
def _staged(out: Path) -> Iterator[Path]:
    """A temporary folder beside ``out`` that replaces it when the block succeeds and
    is removed when it fails."""
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    work.chmod(0o777 & ~umask)  # mkdtemp makes 0700; the report folder follows the umask
    try:
        yield work
        _replace_dir(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise


def _build(
    context: SectionContext,
    images: dict[str, str],
    *,
    title: str,
    progress: Progress | None,
) -> None:
    """Build every registered section in order, then write ``report.html``."""
    sections = [section() for section in ordered()]
    for section in sections:
        start = getattr(section, "start", None)
        if start is not None:
            start(context)
    try:
        built: list[tuple[Any, SectionContent]] = []
        for section in sections:
            with _step(context, section.name, progress):
                content = section.build(context)
            if content is not None:
                built.append((section, content))
        with _step(context, "render", progress):
            html = _render(context, built, images, title=title)
            (context.out / "report.html").write_text(html, encoding="utf-8")
    except BaseException:
        for cancel in context.cancel_on_failure:
            cancel()
        raise


@contextmanager
def _step(context: SectionContext, name: str, progress: Progress | None) -> Iterator[None]:
    """Time a step (wall and CPU), record the warnings it raises under its name, and
    report it done."""
    start, cpu_start = time.perf_counter(), time.process_time()
    with captured(context.section_notes, name):
        yield
    context.timings[name] = time.perf_counter() - start
    context.cpu[name] = time.process_time() - cpu_start
    if progress:
        progress(name)


def _render(
    context: SectionContext,
    built: list[tuple[Any, SectionContent]],
    images: dict[str, str],
    *,
    title: str,
) -> str:
    """The page: every built section under an automatically numbered heading (a section
    without a title continues the one before it)."""
    env = _environment()
    shared = {
        "images": images,
        "caption": CAPTION,
        "n_boot": context.n_boot,
        "section_notes": context.section_notes,
    }
    parts: list[dict[str, Any]] = []
    numbers: dict[str, int] = {}
    for section, content in built:
        template = env.get_template(getattr(section, "template", None) or GENERIC)
        body = Markup(template.render(**shared, **content.values, content=content))
        if section.title is None and parts:
            parts[-1]["body"] += body
            continue
        numbers[section.name] = len(numbers) + 1
        parts.append(
            {
                "number": numbers[section.name],
                "title": section.title or section.name,
                "contents": getattr(section, "contents", None) or section.title or section.name,
                "anchor": anchor(section),
                "body": body,
            }
        )
    by_name = {section.name: content.values for section, content in built}
    return env.get_template("report.html").render(
        **shared,
        **counts(context.frame),
        title=title,
        notes=context.notes,
        sections=parts,
        number=numbers,
        map=by_name.get("attack map", {}).get("map"),
        generated=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        timings={k: f"{v:.1f} s" for k, v in context.timings.items()},
    )
