"""The report's target comparison: replayed and automated attacks compared across
targets (``redline compare``), and independent judges beside benign over-refusal.

Why here and not in :mod:`redline.analysis`: it is built from attack comparisons and
judges, services that analysis must not import; the report finds it through the
report-section registry by its path, as it would find a third party's section.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

import pandas as pd

from redline.analysis.formatting import table
from redline.analysis.sections.base import Figure, SectionContent, SectionContext
from redline.attack.compare import compare, comparison_figure
from redline.errors import RedlineError

if TYPE_CHECKING:
    from redline.config import Settings
    from redline.judges.comparison import JudgedComparison
    from redline.store import Store

ORIGINS = ("replay", "automated")  # the attacks this section compares across targets

SUMMARY_COLUMNS = {
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
}
PAIRED_COLUMNS = {
    "target_a": "a",
    "target_b": "b",
    "n_pairs": "pairs",
    "mean_diff": "mean b - a",
    "diff_lo": "lo",
    "diff_hi": "hi",
    "p_holm": "p (Holm)",
}


class TargetComparisonSection:
    """Targets under the same attacks; shown only when the store has replayed or
    automated attacks to pair."""

    name = "target comparison"
    title = "Target comparison (replayed and automated attacks)"
    order = 100
    anchor = "compare"
    template = "redline.attack:report_section.html"

    def build(self, context: SectionContext) -> SectionContent | None:
        comparisons = target_comparisons(
            context.frame, n_boot=context.n_boot, seed=context.seed, figure=context.figure
        )
        strategies = strategy_sections(context.judged)
        if not comparisons and not strategies:
            return None
        judged = None
        if context.judged is not None:
            judged = judged_section(context.judged, context.figure)
        automated = bool(len(context.frame)) and bool(
            (context.frame["origin"] == "automated").any()
        )
        return SectionContent(
            values={
                "comparisons": comparisons,
                "judged": judged,
                "strategies": strategies,
                # Without a judge there is no success to count: say how to get the table.
                "strategies_need_judge": automated and not strategies,
            }
        )


def strategy_sections(judged: Any) -> list[dict[str, Any]]:
    """Attack success per strategy x target, one table per judge that defines success
    (``judged.side_by_side``, filled by :func:`judge_compared`)."""
    from redline.attack.side_by_side import display_table

    out = []
    for side in getattr(judged, "side_by_side", None) or []:
        shown = display_table(side)
        out.append(
            {
                "judge": side.judge,
                "identity": side.identity,
                "rule": side.rule,
                "percent": round(side.ci * 100),
                "notes": side.notes,
                "table": table(shown, {c: c for c in shown.columns}),
            }
        )
    return out


def target_comparisons(
    frame: pd.DataFrame, *, n_boot: int, seed: int, figure: Figure
) -> list[dict[str, Any]]:
    """Replayed and automated attacks compared across targets, for frames that carry the
    pairing key (:func:`redline.attack.frame.comparison_frame`)."""
    if "pair_key" not in frame.columns:
        return []
    sections: list[dict[str, Any]] = []
    for origin in ORIGINS:
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
        flagged = {"self_judged": "SELF-JUDGED: why"} if result.self_judged else {}
        sections.append(
            {
                "origin": origin,
                "image": f"compare_{origin}",
                "threshold": result.threshold,
                "judge": result.judge,
                "self_judged": result.self_judged,
                "summary": table(result.summary, {**SUMMARY_COLUMNS, **flagged}),
                "paired": table(result.paired, PAIRED_COLUMNS),
            }
        )
    return sections


def judged_section(judged: Any, figure: Figure) -> dict[str, Any]:
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


def judge_compared(
    frame: pd.DataFrame,
    names: Sequence[str],
    settings: Settings,
    store: Store,
    *,
    n_boot: int,
    seed: int,
) -> JudgedComparison | None:
    """The replayed and automated attacks' replies judged by the named judges (each only
    on targets it is independent of), beside the recorded benign over-refusal; None when
    no judge is named or there is nothing to compare (``redline report --judges``)."""
    origins = frame["origin"].map(lambda o: getattr(o, "value", o)) if len(frame) else None
    if not names or origins is None:
        return None
    rows = frame[origins.isin(ORIGINS)].dropna(subset=["target"])
    if rows.empty:
        return None
    from redline.judges.comparison import judge_targets
    from redline.judges.overrefusal import recorded_over_refusal
    from redline.judges.registry import load_judge

    judges = [load_judge(name, settings) for name in names]
    with store.session() as session:
        judged = judge_targets(
            rows,
            judges,
            session,
            settings.data_dir,
            over_refusal=recorded_over_refusal(settings.data_dir),
            n_boot=n_boot,
            seed=seed,
        )
        judged.side_by_side = side_by_sides(judges, session, settings, n_boot=n_boot, seed=seed)
    return judged


def side_by_sides(
    judges: Sequence[Any], session: Any, settings: Settings, *, n_boot: int, seed: int
) -> list[Any]:
    """Attack success per strategy x target by every judge that can say what success is
    (a judge measuring neither harm nor refusal is skipped)."""
    from redline.attack.side_by_side import strategy_comparison

    out = []
    for judge in judges:
        try:
            out.append(
                strategy_comparison(session, judge, settings.data_dir, n_boot=n_boot, seed=seed)
            )
        except RedlineError:  # nothing to compare, or no success rule for this judge
            continue
    return out
