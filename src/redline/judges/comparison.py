"""Targets by several independent judges, beside their over-refusal on benign requests.

Why: one judge is one opinion, and the PM is no opinion at all on targets whose replies
it selected. So each target gets the mean harm of its attempts (the most harmful reply
of each) by every judge that is independent of it (bootstrap 95% interval), a cell that
says why where a judge is not, and the benign over-refusal rate (Wilson interval) with
the benign replies' reference coverage (bootstrap interval), so a defence that "wins" by
refusing or evading everything is visible as such.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from redline.judges.base import Judge
from redline.judges.independence import conflict, selectors
from redline.statistics import mean_ci

HARM_COLUMNS = [
    "target",
    "model_type",
    "size_label",
    "judge",
    "identity",
    "harm_scale",
    "n",
    "mean_harm",
    "lo",
    "hi",
    "not_independent",
]
REFUSAL_COLUMNS = [
    "target",
    "detector",
    "n",
    "refusals",
    "rate",
    "lo",
    "hi",
    "coverage",
    "coverage_lo",
    "coverage_hi",
]
#: Column of :meth:`JudgedComparison.wide` for the benign replies' reference coverage.
COVERAGE_COLUMN = "benign answer coverage (reference words)"


@dataclass
class JudgedComparison:
    harm: pd.DataFrame
    over_refusal: pd.DataFrame
    #: Attack success per strategy x target by each judge (one
    #: ``redline.attack.side_by_side.SideBySide`` per judge that defines success),
    #: filled by the report's target comparison; judges cannot name attack's types.
    side_by_side: list[Any] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {
            "harm": self.harm.to_dict(orient="records"),
            "over_refusal": self.over_refusal.to_dict(orient="records"),
            "side_by_side": [s.to_dict() for s in self.side_by_side],
        }

    def wide(self) -> pd.DataFrame:
        """One row per target: ``harm by <judge>`` text cells, the over-refusal cell and,
        where measured, the reference-coverage cell."""
        rows: dict[str, dict[str, Any]] = {}
        for r in self.harm.itertuples():
            row = rows.setdefault(str(r.target), {"target": r.target})
            if r.not_independent:
                cell = f"n/a: {r.not_independent}"
            elif r.n == 0:
                cell = "no verdicts"
            else:
                cell = f"{r.mean_harm:.2f} [{r.lo:.2f}, {r.hi:.2f}] n={r.n}"
            row[f"harm by {r.judge}"] = cell
        refusal_columns: dict[str, None] = {}
        for r in self.over_refusal.itertuples():
            row = rows.setdefault(str(r.target), {"target": r.target})
            # named by its detector's kind ("refusal-lexicon"): a lexicon counts refusals,
            # not evasions, and a reader must see which count this is
            column = f"benign over-refusal ({str(r.detector).partition(':')[0]})"
            refusal_columns[column] = None
            row[column] = f"{r.rate:.2f} [{r.lo:.2f}, {r.hi:.2f}] n={r.n}"
            if r.coverage == r.coverage:  # NaN in records measured before coverage was
                refusal_columns[COVERAGE_COLUMN] = None
                row[COVERAGE_COLUMN] = (
                    f"{r.coverage:.3f} [{r.coverage_lo:.3f}, {r.coverage_hi:.3f}]"
                )
        columns = ["target", *(f"harm by {j}" for j in dict.fromkeys(self.harm["judge"]))]
        columns += list(refusal_columns)
        return pd.DataFrame(list(rows.values()), columns=columns).fillna("")


def target_conflicts(
    judge: Judge, targets: Mapping[str, str], *, rs_scorer: str | None = None
) -> dict[str, str]:
    """target -> why ``judge`` may not judge it (only the targets it may not judge).
    ``targets`` maps each target name to its hh-rlhf model type."""
    out = {}
    for name, model_type in targets.items():
        why = conflict(
            judge.identity,
            judge.info,
            name.split("/")[0],
            selectors(model_type, rs_scorer=rs_scorer),
        )
        if why:
            out[name] = why
    return out


def judge_targets(
    rows: pd.DataFrame,
    judges: Sequence[Judge],
    session: Any,
    data_dir: Path | None,
    *,
    over_refusal: Mapping[str, Mapping[str, Any]] | None = None,
    rs_scorer: str | None = None,
    n_boot: int = 2000,
    seed: int = 0,
) -> JudgedComparison:
    """Harm per target by every judge independent of it, and the given over-refusal."""
    from redline.judges.service import attempt_harm

    targets = (
        rows.drop_duplicates("target")
        .set_index("target")[["model_type", "size_label"]]
        .to_dict("index")
    )
    out = []
    for judge in judges:
        conflicts = target_conflicts(
            judge, {t: str(v["model_type"]) for t, v in targets.items()}, rs_scorer=rs_scorer
        )
        free = rows[~rows["target"].isin(conflicts)]
        harm = (
            attempt_harm(judge, session, data_dir, sorted(free["attempt_id"].astype(int)))
            if len(free)
            else {}
        )
        for target, meta in targets.items():
            ids = rows.loc[rows["target"] == target, "attempt_id"].astype(int)
            values = np.array([harm[i] for i in ids if i in harm], dtype=float)
            mean, lo, hi = (
                mean_ci(values, n_boot=n_boot, seed=seed) if len(values) else (np.nan,) * 3
            )
            out.append(
                {
                    "target": target,
                    "model_type": meta["model_type"],
                    "size_label": meta["size_label"],
                    "judge": judge.info.name,
                    "identity": judge.identity,
                    "harm_scale": judge.info.harm_scale,
                    "n": len(values),
                    "mean_harm": mean,
                    "lo": lo,
                    "hi": hi,
                    "not_independent": conflicts.get(target, ""),
                }
            )
    refusal_rows = [
        {k: record.get(k, np.nan) for k in REFUSAL_COLUMNS}
        for t, record in (over_refusal or {}).items()
        if t in targets
    ]
    return JudgedComparison(
        pd.DataFrame(out, columns=HARM_COLUMNS), pd.DataFrame(refusal_rows, columns=REFUSAL_COLUMNS)
    )


REPLY_COLUMNS = ["attempt_id", "position", "human", "harm", "refusal", "status"]


def reply_verdicts(
    judge: Judge, session: Any, data_dir: Path | None, attempt_ids: Sequence[int]
) -> pd.DataFrame:
    """One row per judged reply of these attempts, in conversation order (``position``
    0, 1, ...), with the human message that drew it: what attack comparisons need to
    say when an attack first succeeded, not only whether. Reviewers rate whole attempts,
    so the reviews judge gives one row per reviewed attempt, at its last position."""
    from redline.judges.service import attempt_items, judge_cached

    if judge.info.name == "reviews":
        return _review_rows(judge, session, attempt_ids)
    items = attempt_items(session, attempt_ids)
    verdicts = judge_cached(judge, [(c, r) for _, c, r in items], data_dir)
    rows = []
    position: dict[int, int] = {}
    for (attempt_id, context, _reply), verdict in zip(items, verdicts, strict=True):
        index = position.get(attempt_id, 0)
        position[attempt_id] = index + 1
        human = context[-1].text if context and context[-1].role == "human" else ""
        rows.append((attempt_id, index, human, verdict.harm, verdict.refusal, verdict.status))
    return pd.DataFrame(rows, columns=REPLY_COLUMNS)


def _review_rows(judge: Judge, session: Any, attempt_ids: Sequence[int]) -> pd.DataFrame:
    from redline.judges.service import attempt_items

    wanted = set(attempt_ids)
    verdicts = {
        a: v
        for a, v in judge.attempt_verdicts(session).items()  # type: ignore[attr-defined]
        if a in wanted
    }
    last: dict[int, tuple[int, str]] = {}
    for attempt_id, context, _reply in attempt_items(session, sorted(verdicts)):
        index = last[attempt_id][0] + 1 if attempt_id in last else 0
        human = context[-1].text if context and context[-1].role == "human" else ""
        last[attempt_id] = (index, human)
    rows = [
        (a, *last.get(a, (0, "")), v.harm, v.refusal, v.status) for a, v in sorted(verdicts.items())
    ]
    return pd.DataFrame(rows, columns=REPLY_COLUMNS)


def tradeoff_figure(judged: JudgedComparison, path: str | Path | None = None) -> Any:
    """The paper's evasiveness trade-off: per target, harmlessness (negated mean harm) by
    each independent judge against helpfulness, one column per judge (their scales
    differ), with their intervals. Helpfulness is 1 - benign over-refusal (the lexicon's
    count) and, in a second row where measured, the benign replies' reference coverage,
    which also falls when a target evades without refusing."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    harm = judged.harm[(judged.harm["not_independent"] == "") & (judged.harm["n"] > 0)]
    refusal = judged.over_refusal.set_index("target")
    names = list(dict.fromkeys(harm["judge"])) or [""]
    helpfulness = [
        ("rate", "lo", "hi", True, "helpfulness: 1 - benign over-refusal (refusal lexicon)")
    ]
    if len(refusal) and refusal["coverage"].notna().all():
        helpfulness.append(
            ("coverage", "coverage_lo", "coverage_hi", False, "helpfulness: benign answer coverage")
        )
    fig, axes = plt.subplots(
        len(helpfulness),
        len(names),
        figsize=(5.2 * len(names), 4.2 * len(helpfulness)),
        squeeze=False,
    )
    for row, (column, low, high, inverted, label) in zip(axes, helpfulness, strict=True):
        for ax, name in zip(row, names, strict=True):
            part = harm[(harm["judge"] == name) & harm["target"].isin(refusal.index)]
            for r in part.itertuples():
                ref = refusal.loc[r.target]
                value, lo, hi = (float(ref[c]) for c in (column, low, high))
                if inverted:
                    value, lo, hi = 1 - value, 1 - hi, 1 - lo
                y = -float(r.mean_harm)
                ax.errorbar(
                    value,
                    y,
                    xerr=np.clip([[value - lo], [hi - value]], 0, None),
                    yerr=np.clip(
                        [[float(r.hi) - float(r.mean_harm)], [float(r.mean_harm) - float(r.lo)]],
                        0,
                        None,
                    ),
                    marker="o",
                    capsize=3,
                )
                ax.annotate(
                    str(r.target), (value, y), fontsize=7, xytext=(4, 4), textcoords="offset points"
                )
            scale = part["harm_scale"].iloc[0] if len(part) else ""
            ax.set_xlabel(label)
            ax.set_ylabel(f"harmlessness: - mean harm\n({scale})", fontsize=8)
            ax.set_title(f"judge: {name}" if name else "no independent judge with over-refusal")
            ax.grid(alpha=0.3)
    fig.suptitle("Harmlessness against helpfulness per target (95%: bootstrap, Wilson)")
    fig.tight_layout()
    if path is not None:
        fig.savefig(path, dpi=120)
    return fig
