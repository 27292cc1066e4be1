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
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
from jinja2 import Environment, PackageLoader, select_autoescape

from redline.analysis import figures as figs
from redline.analysis.attack_map import AttackMap, attack_map
from redline.analysis.distributions import (
    rating_distribution,
    rating_harmlessness_correlation,
    rating_vs_harmlessness,
    score_summary,
)
from redline.analysis.embeddings import Embedder
from redline.analysis.mixed import ModelError, confound_model, member_efficacy
from redline.analysis.people import attempts_per_person, concentration
from redline.analysis.success import attack_success
from redline.analysis.tables import cell_summary
from redline.analysis.tags import tag_frequencies
from redline.analysis.template_attacks import template_attacks
from redline.datasets.pii import pii_counts

STEPS = (
    "tables",
    "attack success",
    "distributions",
    "people",
    "mixed models",
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


def table(df: pd.DataFrame, columns: dict[str, str], *, limit: int | None = None) -> dict[str, Any]:
    """A table for the template: header labels and rows of formatted strings."""
    shown = df.head(limit) if limit else df
    return {
        "header": list(columns.values()),
        "rows": [[_fmt(row[c]) for c in columns] for row in shown.to_dict(orient="records")],
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
            result = compare(frame, origin=origin, n_boot=n_boot, seed=seed)
        except RedlineError as exc:
            sections.append({"origin": origin, "error": str(exc)})
            continue
        figure(comparison_figure(result), f"compare_{origin}")
        sections.append(
            {
                "origin": origin,
                "image": f"compare_{origin}",
                "threshold": result.threshold,
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
) -> ReportResult:
    """Run every analysis, write figures and ``report.html`` into ``out_dir``."""
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    timings: dict[str, float] = {}
    notes: list[str] = []
    figures: list[Path] = []
    images: dict[str, str] = {}
    ctx: dict[str, Any] = {"title": title, "notes": notes}

    def step(name: str) -> Callable[[], None]:
        start = time.perf_counter()

        def done() -> None:
            timings[name] = time.perf_counter() - start
            if progress:
                progress(name)

        return done

    def figure(fig: Any, name: str, svg: bool = False) -> None:
        paths = figs.save(fig, out, name, svg=svg)
        figures.extend(paths)
        images[name] = _png(paths[0])

    done = step("tables")
    cells = cell_summary(frame)
    ctx["n_attempts"] = len(frame)
    ctx["n_people"] = int(frame["member"].nunique()) if len(frame) else 0
    ctx["origins"] = frame["origin"].value_counts().to_dict() if len(frame) else {}
    ctx["pools"] = (
        frame.drop_duplicates("member")["pool"].value_counts().to_dict() if len(frame) else {}
    )
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
    done()

    done = step("attack success")
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
    )
    ctx["n_boot"] = n_boot
    figure(figs.attack_success_figure(success, frame), "attack_success", svg=True)
    done()

    done = step("distributions")
    by_rating = rating_vs_harmlessness(frame)
    ctx["ratings"] = table(
        rating_distribution(frame), {"rating": "rating", "n": "n", "share": "share"}
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
    )
    pearson, spearman, n_both = rating_harmlessness_correlation(frame)
    ctx["correlation"] = {"pearson": _fmt(pearson), "spearman": _fmt(spearman), "n": n_both}
    figure(figs.distributions_figure(frame, by_rating), "distributions")
    done()

    done = step("people")
    per_person = attempts_per_person(frame)
    conc = concentration(per_person, 0.8)
    ctx["concentration"] = conc.sentence() if conc.total_people else "no attempts with an author"
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
    )
    figure(figs.people_figure(per_person, 0.8, conc.people_share), "people")
    done()

    done = step("mixed models")
    ctx["efficacy"] = ctx["confound"] = None
    try:
        eff = member_efficacy(frame)
        effects = eff.random_effects if eff.random_effects is not None else pd.DataFrame()
        ctx["efficacy"] = {
            "n": eff.n,
            "groups": eff.n_groups,
            "group_var": _fmt(eff.group_variance),
            "resid_var": _fmt(eff.residual_variance),
            "notes": eff.notes,
            "most": table(
                effects,
                {
                    "member": "member",
                    "pool": "pool",
                    "n": "n",
                    "random_intercept": "intercept",
                    "lo": "lo",
                    "hi": "hi",
                },
                limit=10,
            ),
            "least": table(
                effects.iloc[::-1],
                {
                    "member": "member",
                    "pool": "pool",
                    "n": "n",
                    "random_intercept": "intercept",
                    "lo": "lo",
                    "hi": "hi",
                },
                limit=5,
            ),
            "n_below": int((effects["hi"] < 0).sum()) if len(effects) else 0,
            "n_above": int((effects["lo"] > 0).sum()) if len(effects) else 0,
        }
        figure(figs.efficacy_figure(effects), "efficacy")
        conf = confound_model(frame)
        ctx["confound"] = {
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
    except ModelError as exc:
        notes.append(f"mixed models skipped: {exc}")
    done()

    done = step("tags")
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
    )
    if len(tags):
        figure(figs.tags_figure(tags), "tags")
    done()

    done = step("template attacks")
    templates = template_attacks(texts, frame)
    groups = templates.groups.copy()
    ctx["templates"] = {
        "n": templates.n_template_attempts,
        "threshold": templates.threshold,
        "min_repeats": templates.min_repeats,
        "n_groups": len(groups),
        "groups": [
            {
                "n": int(g.n),
                "n_people": int(g.n_people),
                "top_member": int(g.top_member),
                "top_count": int(g.top_count),
                "examples": list(g.examples),
            }
            for g in groups.head(8).itertuples()
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
        ),
    }
    done()

    done = step("pii")
    pii = pii_counts(texts["transcript"].tolist() + texts["task_description"].tolist())
    ctx["pii"] = dict(sorted(pii.items()))
    done()

    done = step("attack map")
    amap: AttackMap = attack_map(texts, frame, embed=embed, seed=seed)
    notes.extend(amap.notes)
    ctx["map"] = None
    if len(amap.points):
        from redline.analysis.interactive import write_interactive_map

        figure(figs.attack_map_figure(amap.points, amap.clusters, amap.embedding), "attack_map")
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
            ),
            "timings": {k: f"{v:.1f} s" for k, v in amap.timings.items()},
            "throughput": getattr(embed, "throughput", None),
        }
        for key, value in amap.timings.items():
            timings[f"attack map: {key}"] = value
    done()

    done = step("target comparison")
    ctx["comparisons"] = _target_comparisons(frame, n_boot=n_boot, seed=seed, figure=figure)
    done()

    done = step("render")
    env = Environment(
        loader=PackageLoader("redline.analysis", "templates"),
        autoescape=select_autoescape(["html", "j2"], default=True),
    )
    ctx["images"] = images
    ctx["generated"] = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    ctx["timings"] = {k: f"{v:.1f} s" for k, v in timings.items()}
    path = out / "report.html"
    path.write_text(env.get_template("report.html").render(**ctx), encoding="utf-8")
    done()
    numbers = {"cells": cells, "success": success, "per_person": per_person}
    return ReportResult(path, figures, timings, notes, numbers)
