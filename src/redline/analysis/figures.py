"""Matplotlib figures for the report (Agg backend: no display needed, nothing downloaded).

Each function takes analysis tables and returns a Figure; :func:`save` writes it as PNG
(embedded in report.html) and optionally SVG (for papers).
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from redline.analysis.labels import paper_name
from redline.analysis.ordering import model_type_order
from redline.vocabulary import PLAIN_LM, PROMPTED_LM, REJECTION_SAMPLING, RLHF

COLOURS = {
    PLAIN_LM: "#7f7f7f",
    PROMPTED_LM: "#1f77b4",
    REJECTION_SAMPLING: "#2ca02c",
    RLHF: "#d62728",
}
_EXTRA = ["#9467bd", "#8c564b", "#e377c2", "#bcbd22", "#17becf", "#ff7f0e"]


def colour(model_type: str, index: int) -> str:
    return COLOURS.get(model_type, _EXTRA[index % len(_EXTRA)])


def save(fig: Figure, out_dir: Path, name: str, *, svg: bool = False) -> list[Path]:
    """Write ``name.png`` (and ``name.svg``) and close the figure."""
    paths = [out_dir / f"{name}.png"]
    fig.savefig(paths[0], dpi=110, bbox_inches="tight")
    if svg:
        paths.append(out_dir / f"{name}.svg")
        fig.savefig(paths[1], bbox_inches="tight")
    plt.close(fig)
    return paths


def _size_axis(ax: plt.Axes, table: pd.DataFrame) -> None:
    sizes = table[["num_params", "size_label"]].drop_duplicates().sort_values("num_params")
    ax.set_xscale("log")
    ax.set_xticks(sizes["num_params"].astype(float))
    ax.set_xticklabels(sizes["size_label"])
    ax.minorticks_off()
    ax.set_xlabel("model size (parameters, log scale)")


def dodge(index: int, count: int, width: float = 0.06) -> float:
    """Multiplicative x offset of the ``index``-th of ``count`` series on a log axis,
    so that error bars of different model types at one size sit side by side."""
    return float(10 ** ((index - (count - 1) / 2) * width))


def attack_success_figure(success: pd.DataFrame, frame: pd.DataFrame) -> Figure:
    """Figure 1 of the paper: success and harmlessness by size, one dodged series per
    model type; the third panel the distribution of min-harmlessness per model type.

    The rating axis shows the whole 0-4 scale, so a difference of 0.3 looks as large as
    it is on the scale people answered; one legend sits below the panels, off the data.
    """
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.6))
    types = model_type_order(success["model_type"]) if len(success) else []
    handles = []
    for i, model_type in enumerate(types):
        rows = success[success["model_type"] == model_type].sort_values("num_params")
        x = rows["num_params"].astype(float) * dodge(i, len(types))
        for ax, col in ((axes[0], "mean_rating"), (axes[1], "mean_min_harmlessness")):
            y = rows[col]
            err = np.vstack([y - rows[f"{col}_lo"], rows[f"{col}_hi"] - y])
            line = ax.errorbar(
                x,
                y,
                yerr=np.nan_to_num(err),
                marker="o",
                ms=5,
                capsize=3,
                color=colour(model_type, i),
                label=paper_name(model_type),
            )
        handles.append(line)
    for ax, title, ylabel in (
        (axes[0], "Attack success (self-rated)", "mean rating, 0-4 scale (95% CI)"),
        (axes[1], "Harmlessness of the worst reply", "mean min-harmlessness (95% CI)"),
    ):
        ax.set_title(title)
        ax.set_ylabel(ylabel)
        if len(success):
            _size_axis(ax, success)
        ax.grid(alpha=0.3)
    axes[0].set_ylim(0, 4)
    axes[0].set_yticks([0, 1, 2, 3, 4])
    axes[0].set_yticklabels(["0 not", "1", "2", "3", "4 very"])
    axes[1].axhline(0, color="black", lw=0.6)
    scored = frame.dropna(subset=["min_harmlessness", "model_type"])
    if len(scored):
        bins = np.linspace(scored["min_harmlessness"].min(), scored["min_harmlessness"].max(), 60)
        for i, model_type in enumerate(model_type_order(scored["model_type"])):
            values = scored.loc[scored["model_type"] == model_type, "min_harmlessness"]
            axes[2].hist(
                values,
                bins=bins,
                density=True,
                histtype="step",
                lw=1.6,
                color=colour(model_type, i),
            )
    axes[2].set_title("Distribution of min-harmlessness")
    axes[2].set_xlabel("min-harmlessness score (lower = more harmful)")
    axes[2].set_ylabel("density")
    fig.tight_layout(rect=(0, 0.08, 1, 1))
    if handles:
        fig.legend(
            handles=handles,
            labels=[paper_name(t) for t in types],
            loc="lower center",
            ncol=len(types),
            frameon=False,
            fontsize=9,
        )
    return fig


def distributions_figure(frame: pd.DataFrame, by_rating: pd.DataFrame) -> Figure:
    fig, axes = plt.subplots(1, 4, figsize=(17, 3.8))
    ratings = frame["rating"].dropna()
    counts = ratings.value_counts().sort_index()
    axes[0].bar(counts.index.astype(str), counts.to_numpy(), color="#1f77b4")
    axes[0].set_title(f"Self-rated success (n={len(ratings)})")
    axes[0].set_xlabel("rating")
    axes[0].set_ylabel("attempts")
    for ax, col, title in (
        (axes[1], "min_harmlessness", "Min-harmlessness"),
        (axes[2], "task_description_harmlessness", "Task-description harmlessness"),
    ):
        values = frame[col].dropna()
        if len(values):
            ax.hist(values, bins=60, color="#7f7f7f")
        ax.set_title(f"{title} (n={len(values)})")
        ax.set_xlabel("score (lower = more harmful)")
    if len(by_rating):
        axes[3].errorbar(
            by_rating["rating"],
            by_rating["mean_min_harmlessness"],
            yerr=by_rating["sd_min_harmlessness"].fillna(0),
            marker="o",
            capsize=3,
        )
    axes[3].set_title("Min-harmlessness by rating (mean ± sd)")
    axes[3].set_xlabel("rating")
    axes[3].grid(alpha=0.3)
    fig.tight_layout()
    return fig


def people_figure(per_person: pd.DataFrame, share: float, people_share: float) -> Figure:
    fig, axes = plt.subplots(1, 2, figsize=(12, 3.8))
    if len(per_person):
        axes[0].bar(per_person["rank"], per_person["n"], width=1.0, color="#1f77b4")
        axes[0].set_yscale("log")
        axes[1].plot(per_person["cum_people_share"], per_person["cum_share"], color="#d62728")
        axes[1].axhline(share, color="black", lw=0.6, ls="--")
        axes[1].axvline(people_share, color="black", lw=0.6, ls="--")
        axes[1].annotate(
            f"{share:.0%} of attacks from {people_share:.1%} of people",
            (people_share, share),
            xytext=(8, -18),
            textcoords="offset points",
        )
    axes[0].set_title("Attempts per red teamer (sorted)")
    axes[0].set_xlabel("red teamer rank")
    axes[0].set_ylabel("attempts (log scale)")
    axes[1].set_title("Cumulative share of attempts")
    axes[1].set_xlabel("share of red teamers (most active first)")
    axes[1].set_ylabel("share of attempts")
    axes[1].grid(alpha=0.3)
    fig.tight_layout()
    return fig


def efficacy_figure(effects: pd.DataFrame) -> Figure:
    """Per-person random intercepts with intervals; only drawn when the person variance
    is estimated above 0 (at the boundary every intercept is 0 and the plot says nothing)."""
    fig, ax = plt.subplots(figsize=(12, 3.8))
    if len(effects):
        x = np.arange(len(effects))
        ax.vlines(x, effects["lo"], effects["hi"], color="#9ecae1", lw=1)
        colours = np.where(effects["pool"] == "upwork", "#d62728", "#1f77b4")
        ax.scatter(x, effects["random_intercept"], s=6, c=colours, zorder=3)
    ax.axhline(0, color="black", lw=0.6)
    ax.set_title("Per-person random intercepts of min-harmlessness (95% CI; red: Upwork)")
    ax.set_xlabel("red teamer (sorted; left = most harmful conversations)")
    ax.set_ylabel("random intercept")
    fig.tight_layout()
    return fig


def tags_figure(tags: pd.DataFrame) -> Figure:
    overall = tags[tags["model_type"] == "all"].head(20).iloc[::-1]
    fig, ax = plt.subplots(figsize=(10, max(2.5, 0.32 * len(overall) + 1)))
    y = np.arange(len(overall))
    ax.barh(y - 0.2, overall["share_all"], height=0.4, label="all attempts", color="#7f7f7f")
    ax.barh(
        y + 0.2,
        overall["share_successful"],
        height=0.4,
        label="successful (rating >= 3)",
        color="#d62728",
    )
    ax.set_yticks(y)
    ax.set_yticklabels(overall["tag"], fontsize=8)
    ax.set_xlabel("share of attempts carrying the tag")
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=1))
    ax.set_title("Tags: all vs successful attempts")
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.01, 1.0), frameon=False)
    fig.tight_layout()
    return fig


def attack_map_figure(points: pd.DataFrame, clusters: pd.DataFrame, embedding: str) -> Figure:
    fig, ax = plt.subplots(figsize=(10, 8))
    if len(points):
        order = points.sort_values("success")  # successful points drawn on top
        colours = np.where(order["success"], "#d62728", "#9ecae1")
        size = 2 if len(points) > 5000 else 10
        ax.scatter(order["x"], order["y"], s=size, c=colours, alpha=0.6, linewidths=0)
        for row in clusters[clusters["cluster"] >= 0].head(25).itertuples():
            members = points[points["cluster"] == row.cluster]
            ax.annotate(
                row.label,
                (members["x"].median(), members["y"].median()),
                fontsize=7,
                ha="center",
                bbox={"boxstyle": "round", "fc": "white", "alpha": 0.7},
            )
    ax.set_title(f"Attack map ({embedding} + UMAP; red: rating >= 3)")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    return fig


def attack_map_origin_figure(points: pd.DataFrame, embedding: str) -> Figure:
    """The attack map coloured by origin: people (grey, drawn first) against replays and
    each automated strategy, so where machines attack that people do not (and the
    reverse) shows as colour. Points need ``attack_origin``."""
    fig, ax = plt.subplots(figsize=(10, 8))
    groups = list(dict.fromkeys(points["attack_origin"].astype(str))) if len(points) else []
    groups.sort(key=lambda g: (g != "human", g))
    palette = plt.get_cmap("tab10")
    size = 2 if len(points) > 5000 else 10
    for i, group in enumerate(groups):
        part = points[points["attack_origin"].astype(str) == group]
        ax.scatter(
            part["x"],
            part["y"],
            s=size,
            c="#bdbdbd" if group == "human" else [palette(i % 10)],
            alpha=0.5 if group == "human" else 0.8,
            linewidths=0,
            label=f"{group} ({len(part)})",
        )
    if groups:
        ax.legend(title="origin", fontsize=8, markerscale=2)
    ax.set_title(f"Attack map by origin ({embedding} + UMAP): people and each strategy")
    ax.set_xticks([])
    ax.set_yticks([])
    fig.tight_layout()
    return fig
