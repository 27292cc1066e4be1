"""``report.html``: every analysis of the store in one self-contained page.

Pure function of two frames (:func:`attempts_frame`, :func:`transcripts_frame`): it works
the same on an imported hh-rlhf dataset and on campaign data. Figures are PNG files next to
the page and embedded in it (base64), so the page can be mailed alone; the interactive
attack map is a separate page with plotly.js beside it. All text goes through Jinja2 with
autoescaping: transcripts, task descriptions and tags are adversarial by design.
"""

from __future__ import annotations

import base64
import math
import os
import pickle
import shutil
import tempfile
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from redline.analysis import figures as figs
from redline.analysis.attack_map import MIN_POINTS, AttackMap, attack_map
from redline.analysis.distributions import (
    rating_distribution,
    rating_harmlessness_correlation,
    rating_vs_harmlessness,
    score_summary,
)
from redline.analysis.embeddings import Embedder
from redline.analysis.labels import CAPTION, paper_name
from redline.analysis.mixed import ModelError, confound_model, member_efficacy
from redline.analysis.people import attempts_per_person, concentration
from redline.analysis.success import attack_success
from redline.analysis.tables import cell_summary, counts
from redline.analysis.tags import tag_frequencies
from redline.analysis.template_attacks import template_attacks
from redline.datasets.pii import pii_counts
from redline.review.agreement import RatedItem

STEPS = (
    "tables",
    "attack success",
    "distributions",
    "people",
    "mixed models",
    "agreement",
    "tags",
    "template attacks",
    "pii",
    "attack map",
    "target comparison",
    "render",
)
Progress = Callable[[str], None]


@dataclass
class ReportResult:
    path: Path
    figures: list[Path]
    timings: dict[str, float] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    numbers: dict[str, Any] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)  # captured, stated in the report
    cpu: dict[str, float] = field(default_factory=dict)  # CPU seconds per step


def _fmt(value: Any, digits: int = 3) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if value.is_integer() and abs(value) >= 1000:
            return f"{int(value):,}"
        return f"{value:.{digits}f}"
    if hasattr(value, "item"):
        return _fmt(value.item(), digits)
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


def percent(value: Any) -> str:
    """A share as a percentage with one decimal ("0.2%"), the way readers compare shares."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * float(value):.1f}%"


def integer(value: Any) -> str:
    """A whole number (ratings are 0-4 categories, not measurements: "3", not "3.000")."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{round(float(value)):,}"


Formatter = Callable[[Any], str]


def table(
    df: pd.DataFrame,
    columns: dict[str, str],
    *,
    limit: int | None = None,
    formats: dict[str, Formatter] | None = None,
) -> dict[str, Any]:
    """A table for the template: header labels and rows of formatted strings.

    ``model_type`` cells show the paper's names (:mod:`redline.analysis.labels`);
    ``formats`` overrides the default formatting of named columns.
    """
    shown = df.head(limit) if limit else df
    fmt: dict[str, Formatter] = {"model_type": paper_name, **(formats or {})}
    return {
        "header": list(columns.values()),
        "rows": [
            [fmt.get(c, _fmt)(row[c]) for c in columns] for row in shown.to_dict(orient="records")
        ],
        "total": len(df),
    }


def _png(path: Path) -> str:
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


def _target_comparisons(
    frame: pd.DataFrame, *, n_boot: int, seed: int, figure: Callable[[Any, str], None]
) -> list[dict[str, Any]]:
    """Replayed and automated attacks compared across targets (``redline compare``), for
    frames that carry the pairing key (:func:`redline.attack.frame.comparison_frame`)."""
    if "pair_key" not in frame.columns:
        return []
    from redline.attack.compare import compare, comparison_figure
    from redline.errors import RedlineError

    sections: list[dict[str, Any]] = []
    for origin in ("replay", "automated"):
        if not (frame["origin"] == origin).any():
            continue
        try:
            # Flagged, not dropped: the report shows what the store holds, and says loudly
            # which targets were scored by the PM that selected their replies.
            result = compare(frame, origin=origin, n_boot=n_boot, seed=seed, allow_self_judged=True)
        except RedlineError as exc:
            sections.append({"origin": origin, "error": str(exc)})
            continue
        figure(comparison_figure(result), f"compare_{origin}")
        sections.append(
            {
                "origin": origin,
                "image": f"compare_{origin}",
                "threshold": result.threshold,
                "judge": result.judge,
                "self_judged": result.self_judged,
                "summary": table(
                    result.summary,
                    {
                        "target": "target",
                        "model_type": "model type",
                        "size_label": "size",
                        "n": "n",
                        "mean_min_harmlessness": "mean min-harmlessness",
                        "mean_lo": "lo",
                        "mean_hi": "hi",
                        "success_rate": "success",
                        "success_lo": "lo",
                        "success_hi": "hi",
                        **({"self_judged": "SELF-JUDGED: why"} if result.self_judged else {}),
                    },
                ),
                "paired": table(
                    result.paired,
                    {
                        "target_a": "a",
                        "target_b": "b",
                        "n_pairs": "pairs",
                        "mean_diff": "mean b - a",
                        "diff_lo": "lo",
                        "diff_hi": "hi",
                        "p_holm": "p (Holm)",
                    },
                ),
            }
        )
    return sections


def _judged_section(judged: Any, figure: Callable[[Any, str], None]) -> dict[str, Any]:
    """Harm by independent judges beside benign over-refusal, and the trade-off plot
    (``judged`` is a :class:`redline.judges.comparison.JudgedComparison`, from a study)."""
    from redline.judges.comparison import tradeoff_figure

    figure(tradeoff_figure(judged), "tradeoff")
    wide = judged.wide()
    judges = judged.harm.drop_duplicates("judge")
    return {
        "image": "tradeoff",
        "table": table(wide, {c: c for c in wide.columns}),
        "judges": [(r.judge, r.identity, r.harm_scale) for r in judges.itertuples()],
    }


@contextmanager
def _captured(notes: dict[str, list[str]], section: str) -> Iterator[None]:
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
    out.parent.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix=f".{out.name}.tmp-", dir=out.parent))
    umask = os.umask(0)
    os.umask(umask)
    work.chmod(0o777 & ~umask)  # mkdtemp makes 0700; the report folder follows the umask
    try:
        result = _build(
            frame,
            texts,
            work,
            embed=embed,
            n_boot=n_boot,
            seed=seed,
            max_map_points=max_map_points,
            progress=progress,
            title=title,
            reviews=reviews,
            parallel=parallel,
            judged=judged,
        )
        _replace_dir(work, out)
    except BaseException:
        shutil.rmtree(work, ignore_errors=True)
        raise
    result.path = out / result.path.name
    result.figures = [out / p.name for p in result.figures]
    return result


def _build(
    frame: pd.DataFrame,
    texts: pd.DataFrame,
    out: Path,
    *,
    embed: Embedder | None,
    n_boot: int,
    seed: int,
    max_map_points: int,
    progress: Progress | None,
    title: str,
    reviews: Sequence[RatedItem] | None,
    parallel: bool,
    judged: Any = None,
) -> ReportResult:
    timings: dict[str, float] = {}
    cpu: dict[str, float] = {}  # CPU seconds per step (the attack map's: its own process)
    notes: list[str] = []
    section_notes: dict[str, list[str]] = {}
    figures: list[Path] = []
    images: dict[str, str] = {}
    ctx: dict[str, Any] = {
        "title": title,
        "notes": notes,
        "section_notes": section_notes,
        "caption": CAPTION,
    }

    @contextmanager
    def step(name: str, section: str | None = None) -> Iterator[None]:
        start, cpu_start = time.perf_counter(), time.process_time()
        with _captured(section_notes, section or name):
            yield
        timings[name] = time.perf_counter() - start
        cpu[name] = time.process_time() - cpu_start
        if progress:
            progress(name)

    def figure(fig: Any, name: str, svg: bool = False) -> None:
        paths = figs.save(fig, out, name, svg=svg)
        figures.extend(paths)
        images[name] = _png(paths[0])

    # Comparison pairs and other records without a target are not red-team attempts:
    # they stay out of the text analyses (templates, PII, attack map) as out of Table 1.
    red_ids = set(frame.loc[frame["model_type"].notna(), "attempt_id"]) if len(frame) else set()
    texts = texts[texts["attempt_id"].isin(red_ids)].reset_index(drop=True)
    # The attack map (embedding, UMAP, HDBSCAN) is the longest step and needs nothing
    # the others compute: it starts first, in its own process, while this one does the
    # rest (the two cores of a small machine both work; UMAP's JIT overlaps the models).
    pending = _start_map(texts, frame, embed=embed, seed=seed, parallel=parallel)
    try:
        with step("tables"):
            cells = cell_summary(frame)
            ctx |= counts(frame)
            ctx["cells"] = table(
                cells,
                {
                    "model_type": "model type",
                    "size_label": "size",
                    "n": "n",
                    "mean_rating": "mean rating",
                    "mean_min_harmlessness": "mean min-harmlessness",
                    "n_scored": "n scored",
                },
            )

        with step("attack success"):
            success = attack_success(frame, n_boot=n_boot, seed=seed)
            ctx["success"] = table(
                success,
                {
                    "model_type": "model type",
                    "size_label": "size",
                    "n_rated": "n rated",
                    "mean_rating": "mean rating",
                    "mean_rating_lo": "lo",
                    "mean_rating_hi": "hi",
                    "success_share": "share >= 3",
                    "success_share_lo": "lo",
                    "success_share_hi": "hi",
                    "n_scored": "n scored",
                    "mean_min_harmlessness": "mean min-harml.",
                    "mean_min_harmlessness_lo": "lo",
                    "mean_min_harmlessness_hi": "hi",
                },
                formats={
                    "success_share": percent,
                    "success_share_lo": percent,
                    "success_share_hi": percent,
                },
            )
            ctx["n_boot"] = n_boot
            figure(figs.attack_success_figure(success, frame), "attack_success", svg=True)

        with step("distributions"):
            by_rating = rating_vs_harmlessness(frame)
            ctx["ratings"] = table(
                rating_distribution(frame),
                {"rating": "rating", "n": "n", "share": "share"},
                formats={"rating": integer, "share": percent},
            )
            summary = score_summary(frame)
            ctx["scores"] = table(summary, {c: c for c in summary.columns})
            ctx["by_rating"] = table(
                by_rating,
                {
                    "rating": "rating",
                    "n": "n",
                    "mean_min_harmlessness": "mean min-harmlessness",
                    "sd_min_harmlessness": "sd",
                },
                formats={"rating": integer},
            )
            pearson, spearman, n_both = rating_harmlessness_correlation(frame)
            ctx["correlation"] = {"pearson": _fmt(pearson), "spearman": _fmt(spearman), "n": n_both}
            figure(figs.distributions_figure(frame, by_rating), "distributions")

        with step("people"):
            per_person = attempts_per_person(frame)
            conc = concentration(per_person, 0.8)
            ctx["concentration"] = (
                conc.sentence() if conc.total_people else "no attempts with an author"
            )
            ctx["top_people"] = table(
                per_person,
                {
                    "rank": "rank",
                    "member": "member",
                    "pool": "pool",
                    "n": "attempts",
                    "cum_share": "cumulative share",
                },
                limit=15,
                formats={"cum_share": percent},
            )
            figure(figs.people_figure(per_person, 0.8, conc.people_share), "people")

        with step("mixed models"):
            ctx["efficacy"] = ctx["confound"] = None
            try:
                ctx["efficacy"] = _efficacy(member_efficacy(frame), figure)
                ctx["confound"] = _confound(confound_model(frame))
            except ModelError as exc:
                notes.append(f"mixed models skipped: {exc}")

        with step("agreement"):
            ctx["agreement"] = _agreement(reviews, n_boot=n_boot, seed=seed)

        with step("tags"):
            tags = tag_frequencies(frame)
            ctx["tags"] = table(
                tags,
                {
                    "model_type": "model type",
                    "tag": "tag",
                    "n_all": "n",
                    "share_all": "share of all",
                    "n_successful": "n successful",
                    "share_successful": "share of successful",
                    "n_tagged": "tagged attempts",
                },
                limit=60,
                formats={"share_all": percent, "share_successful": percent},
            )
            if len(tags):
                figure(figs.tags_figure(tags), "tags")

        with step("template attacks"):
            ctx["templates"] = _templates(template_attacks(texts, frame))

        with step("pii"):
            pii = pii_counts(texts["transcript"].tolist() + texts["task_description"].tolist())
            ctx["pii"] = dict(sorted(pii.items()))

        with step("attack map"):
            amap, map_cpu, map_warnings = pending.result()
            section_notes.setdefault("attack map", []).extend(map_warnings)
            cpu["attack map (its process)"] = map_cpu
            notes.extend(amap.notes)
            ctx["map"] = None
            if len(amap.points):
                from redline.analysis.interactive import write_interactive_map

                figure(
                    figs.attack_map_figure(amap.points, amap.clusters, amap.embedding), "attack_map"
                )
                shown = write_interactive_map(
                    amap.points,
                    amap.clusters,
                    out / "attack_map.html",
                    max_points=max_map_points,
                    seed=seed,
                )
                ctx["map"] = {
                    "embedding": amap.embedding,
                    "n": len(amap.points),
                    "shown": shown,
                    "clusters": table(
                        amap.clusters,
                        {
                            "cluster": "cluster",
                            "n": "n",
                            "label": "words",
                            "success_share": "share >= 3",
                            "mean_rating": "mean rating",
                        },
                        limit=30,
                        formats={"success_share": percent},
                    ),
                    "timings": {k: f"{v:.1f} s" for k, v in amap.timings.items()},
                    "throughput": getattr(pending.embed, "throughput", None),
                }
                for key, value in amap.timings.items():
                    timings[f"attack map: {key}"] = value

        with step("target comparison"):
            ctx["comparisons"] = _target_comparisons(frame, n_boot=n_boot, seed=seed, figure=figure)
            if judged is not None:
                ctx["judged"] = _judged_section(judged, figure)

        with step("render"):
            env = Environment(
                loader=PackageLoader("redline.analysis", "templates"),
                autoescape=select_autoescape(["html", "j2"], default=True),
            )
            ctx["images"] = images
            ctx["generated"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
            ctx["timings"] = {k: f"{v:.1f} s" for k, v in timings.items()}
            path = out / "report.html"
            path.write_text(env.get_template("report.html").render(**ctx), encoding="utf-8")
    except BaseException:
        pending.cancel()
        raise
    numbers = {"cells": cells, "success": success, "per_person": per_person}
    warned = [f"{k}: {n}" for k, ns in section_notes.items() for n in ns]
    return ReportResult(path, figures, timings, notes, numbers, warnings=warned, cpu=cpu)


EFFECT_COLUMNS = {
    "member": "member",
    "pool": "pool",
    "n": "n",
    "random_intercept": "intercept",
    "lo": "lo",
    "hi": "hi",
}
# A person variance this small next to the residual variance is the boundary estimate:
# every intercept is shrunk to ~0 and plotting them would show noise as a result.
BOUNDARY = 1e-6


def _efficacy(eff: Any, figure: Callable[[Any, str], None]) -> dict[str, Any]:
    effects = eff.random_effects if eff.random_effects is not None else pd.DataFrame()
    at_boundary = eff.group_variance <= BOUNDARY * max(eff.residual_variance, 1e-12)
    if not at_boundary:
        figure(figs.efficacy_figure(effects), "efficacy")
    return {
        "n": eff.n,
        "groups": eff.n_groups,
        "group_var": _fmt(eff.group_variance),
        "resid_var": _fmt(eff.residual_variance),
        "no_effect": at_boundary,
        "notes": eff.notes,
        "most": table(effects, EFFECT_COLUMNS, limit=10),
        "least": table(effects.iloc[::-1], EFFECT_COLUMNS, limit=5),
        "n_below": int((effects["hi"] < 0).sum()) if len(effects) and not at_boundary else 0,
        "n_above": int((effects["lo"] > 0).sum()) if len(effects) and not at_boundary else 0,
    }


def _confound(conf: Any) -> dict[str, Any]:
    return {
        "n": conf.n,
        "groups": conf.n_groups,
        "group_var": _fmt(conf.group_variance),
        "resid_var": _fmt(conf.residual_variance),
        "notes": conf.notes,
        "coefficients": table(
            conf.coefficients,
            {"term": "term", "coef": "coef", "se": "se", "lo": "lo", "hi": "hi", "p": "p"},
        ),
    }


def _templates(templates: Any) -> dict[str, Any]:
    return {
        "n": templates.n_template_attempts,
        "threshold": templates.threshold,
        "min_repeats": templates.min_repeats,
        "n_groups": len(templates.groups),
        "groups": [
            {
                "n": int(g.n),
                "n_people": int(g.n_people),
                "top_member": int(g.top_member),
                "top_count": int(g.top_count),
                "examples": list(g.examples),
            }
            for g in templates.groups.head(8).itertuples()
        ],
        "people": table(
            templates.people[templates.people["n_template"] > 0],
            {
                "member": "member",
                "n": "attempts",
                "n_template": "template attempts",
                "template_share": "template share",
            },
            limit=15,
            formats={"template_share": percent},
        ),
    }


def _agreement(
    reviews: Sequence[RatedItem] | None, *, n_boot: int, seed: int
) -> dict[str, Any] | None:
    """The review task's agreement statistics beside the paper's (None: no reviews)."""
    if not reviews:
        return None
    from redline.review.agreement import PAPER, STATISTICS, agreement, format_estimate

    stats = agreement(list(reviews), n_boot=n_boot, seed=seed)
    rows = []
    for key, label, paper_with, paper_reviewers in STATISTICS:
        rows.append(
            [
                label,
                format_estimate(stats[f"{key}_reviewers"]),
                f"up to {PAPER[paper_reviewers]:.2f}" if paper_reviewers else "–",
                format_estimate(stats[f"{key}_with_author"]),
                f"{PAPER[paper_with]:.2f}" if paper_with else "–",
            ]
        )
    return {
        "items": len(reviews),
        "raters": stats["reviewers_per_item"],
        "n_boot": n_boot,
        "table": {
            "header": [
                "statistic",
                "reviewers only (95% CI)",
                "paper",
                "reviewers + red teamer (95% CI)",
                "paper",
            ],
            "rows": rows,
            "total": len(rows),
        },
    }


def _map_job(
    texts: pd.DataFrame, frame: pd.DataFrame, embed: Embedder | None, seed: int
) -> tuple[AttackMap, float, list[str]]:
    """The attack map with its CPU seconds and the warnings it raised (run in a worker)."""
    notes: dict[str, list[str]] = {}
    start = time.process_time()
    with _captured(notes, "map"):
        amap = attack_map(texts, frame, embed=embed, seed=seed)
    return amap, time.process_time() - start, notes.get("map", [])


@dataclass
class _Pending:
    """An attack map being computed: in a worker process, or at ``result()`` time."""

    texts: pd.DataFrame
    frame: pd.DataFrame
    embed: Embedder | None
    seed: int
    future: Any = None
    executor: Any = None

    def cancel(self) -> None:
        """Stop the worker now (the report failed; its map is not wanted)."""
        if self.executor is not None:
            for process in list(getattr(self.executor, "_processes", {}).values()):
                process.terminate()  # no public API stops a running job
            self.executor.shutdown(wait=False, cancel_futures=True)

    def result(self) -> tuple[AttackMap, float, list[str]]:
        if self.future is None:
            return _map_job(self.texts, self.frame, self.embed, self.seed)
        try:
            return self.future.result()
        finally:
            self.executor.shutdown()


MAP_COLUMNS = ["attempt_id", "rating", "model_type", "size_label", "member"]


def _start_map(
    texts: pd.DataFrame, frame: pd.DataFrame, *, embed: Embedder | None, seed: int, parallel: bool
) -> _Pending:
    """Start the attack map in a spawned worker when it pays (enough texts, an embedder
    that can be sent to another process); otherwise it runs when its result is asked for.
    The LM embedder stays in this process: it reports progress to this process's bar."""
    texts = texts[["attempt_id", "transcript"]]
    frame = frame[MAP_COLUMNS] if len(frame) else frame
    pending = _Pending(texts, frame, embed, seed)
    if not parallel or len(texts) < MIN_POINTS:
        return pending
    try:
        pickle.dumps(embed)
    except Exception:  # anything unpicklable runs in this process
        return pending
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    pending.executor = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"))
    pending.future = pending.executor.submit(_map_job, texts, frame, embed, seed)
    return pending
