"""``redline judge list`` and ``redline judge eval``: judges and their calibration."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer
from rich.console import Console
from rich.table import Table

from redline.cli.app import app, console, err_console, state
from redline.data import harmless_base_pairs

judge_app = typer.Typer(
    help="Judges of harm and refusal (PM, LLM, refusal lexicon, reviews) and their calibration.",
    no_args_is_help=True,
)
app.add_typer(judge_app, name="judge")


def _out() -> Console:
    """The CLI console, or a wide one when output is not a terminal (files, pipes, tests),
    so calibration cells keep their intervals on one line."""
    return console if console.is_terminal else Console(width=200, soft_wrap=True)


def _ci(block: Any, digits: int = 3) -> str:
    """``value [lo, hi]`` of a calibration entry, or a dash."""
    if not isinstance(block, dict) or block.get("value") is None:
        return "-"
    value, lo, hi = block["value"], block.get("lo"), block.get("hi")
    if lo is None or lo != lo:
        return f"{value:.{digits}f}"
    return f"{value:.{digits}f} [{lo:.{digits}f}, {hi:.{digits}f}]"


def calibration_row(record: dict[str, Any] | None) -> list[str]:
    """accuracy, AUC, rejected-refuses accuracy, benign helpful share, reviews."""
    if not record:
        return ["never calibrated", "", "", "", ""]
    pairs = record.get("pairs", {})
    benign = record.get("benign", {})
    split = pairs.get("by_refusal", {})
    n = pairs.get("n_scored", pairs.get("n"))
    accuracy = f"{_ci(pairs.get('accuracy'))} (n={n})" if "accuracy" in pairs else "-"
    if pairs.get("ties"):  # a judge that ties every pair is at chance by construction
        accuracy = accuracy[:-1] + f", {pairs['ties']:.0%} ties)"
    parts = []
    if "prefers_helpful" in benign:
        parts.append(_ci(benign["prefers_helpful"], 2))
    if "refusal_detection" in benign:
        parts.append(f"refusal detected {_ci(benign['refusal_detection'], 2)}")
    helpful = "; ".join(parts) or "-"
    reviews = record.get("reviews", {})
    review_text = "-"
    if "spearman" in reviews:
        kappa = reviews.get("kappa_binarised") or 0.0
        rho = reviews["spearman"]["rho"]
        review_text = f"rho {rho:.2f}, kappa {kappa:.2f} (n={reviews['n']})"
    return [
        accuracy,
        _ci(pairs.get("auc")),
        _ci(split.get("rejected_refuses"), 2),
        helpful,
        review_text,
    ]


@judge_app.command("list")
def list_cmd(ctx: typer.Context) -> None:
    """Every judge, what it measures, and its last calibration (redline judge eval).

    Example: redline judge list
    """
    from redline.judges.records import last_calibrations
    from redline.judges.registry import JUDGES

    judges = JUDGES.load_all()
    records = last_calibrations(state(ctx).settings.data_dir)
    table = Table(title="Judges (95% intervals; last calibration)")
    for column in (
        "judge",
        "measures",
        "held-out pair accuracy",
        "AUC",
        "acc. when rejected refuses",
        "benign: prefers helpful",
        "reviews",
        "identity",
    ):
        table.add_column(column)
    for name, plugin in judges.items():
        record = records.get(name)
        table.add_row(
            name,
            ", ".join(plugin.measures),
            *calibration_row(record),
            str(record.get("identity", "")) if record else "",
        )
    for name, record in records.items():
        if name not in judges:
            table.add_row(name, "", *calibration_row(record), str(record.get("identity", "")))
    _out().print(table)
    console.print(
        "Calibrate with `redline judge eval --judge NAME`; llm:<target> names an LLM judge "
        "over any target, e.g. an OpenAI-compatible server."
    )


@judge_app.command("eval")
def eval_cmd(
    ctx: typer.Context,
    pairs: Path = typer.Argument(
        harmless_base_pairs(),
        help="hh-rlhf comparison file; the packaged pairs give the 319 the PM never saw.",
        show_default="the packaged hh-rlhf harmless-base pairs",
    ),
    judge: str = typer.Option("pm", "--judge", help="Judge name (redline judge list)."),
    limit: int = typer.Option(0, "--limit", help="Seeded sample of N pairs and items (0 = all)."),
    seed: int = typer.Option(0, "--seed", help="Sample and bootstrap seed."),
    benign: bool = typer.Option(True, "--benign/--no-benign", help="Also the benign set."),
    reviews: bool = typer.Option(True, "--reviews/--no-reviews", help="Agreement with reviews."),
    out: Path | None = typer.Option(None, "--json", help="Write the calibration as JSON here."),
) -> None:
    """Calibrate a judge: pairwise accuracy and AUC (bootstrap 95% intervals) on held-out
    pairs, accuracy split by which reply refuses, the helpful-vs-refusal benign set, and
    agreement with stored reviews (Spearman, kappa on the binarised rating).

    Example: redline judge eval --judge refusal --json refusal.json
    """
    from redline.errors import ConfigError
    from redline.judges.registry import load_judge
    from redline.judges.service import calibrate

    st = state(ctx)
    if not pairs.is_file():
        raise ConfigError(f"pairs file {pairs} does not exist")
    built = load_judge(judge, st.settings)
    record = calibrate(
        built,
        st.settings,
        pairs_path=pairs,
        limit=limit,
        seed=seed,
        benign=benign,
        store=st.store if reviews else None,
        log=err_console.print,
    )
    table = Table(title=f"Calibration of {judge} ({record['identity']})")
    for column in ("pairs (acc, n)", "AUC", "acc. rejected refuses", "benign", "reviews"):
        table.add_column(column)
    table.add_row(*calibration_row(record))
    _out().print(table)
    if "pairs_data" in record:
        console.print(f"pairs: {record['pairs_data']}")
    if out is not None:
        out.write_text(json.dumps(record, indent=2, default=str) + "\n")
        console.print(f"calibration: {out}")
