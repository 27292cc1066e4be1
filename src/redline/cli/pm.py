"""``redline pm train`` and ``redline pm eval``: the harmlessness preference model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from redline.cli.app import app, console, err_console, progress, state
from redline.errors import DataFormatError

pm_app = typer.Typer(
    help="Train and evaluate the harmlessness preference model.", no_args_is_help=True
)
app.add_typer(pm_app, name="pm")


@pm_app.command("train")
def train(
    ctx: typer.Context,
    pairs: list[Path] = typer.Option(
        [], "--pairs", help="hh-rlhf comparison file(s) (chosen = less harmful); repeatable."
    ),
    from_db: bool = typer.Option(False, "--from-db", help="Also train on the store's picks."),
    name: str = typer.Option("pm", "--name", help="Name of the model (file and store row)."),
    backbone: str = typer.Option(
        "smollm2-135m", "--backbone", help="smollm2-135m, gemma3-270m or a GGUF path."
    ),
    head: str = typer.Option("linear", "--head", help="linear (L2, CV-tuned) or mlp."),
    seed: int = typer.Option(0, "--seed", help="Seeds the validation split and the fit."),
    val_fraction: float = typer.Option(0.2, "--val-fraction", help="Share kept for validation."),
    fit_on: str = typer.Option(
        "train",
        "--fit-on",
        help="Side of the seeded split to fit on: train, or validation for a PM that shares "
        "no pair with one fitted on train (same seed and fraction), e.g. a held-out judge.",
    ),
    limit: int = typer.Option(0, "--limit", help="Use only the first N pairs (0 = all)."),
    out: Path | None = typer.Option(
        None, "--out", help="Also write the model here (e.g. the packaged default)."
    ),
    counter_pairs: bool = typer.Option(
        True,
        "--counter-pairs/--no-counter-pairs",
        help="Add the packaged counter-bias pairs (a helpful answer to an everyday request "
        "beats a refusal) to the training side; never to validation.",
    ),
    benign_eval: bool = typer.Option(
        True,
        "--benign-eval/--no-benign-eval",
        help="Also measure the shipped benign set (helpful answer preferred to a refusal).",
    ),
) -> None:
    """Train a Bradley-Terry PM on LM hidden-state features and register it.

    Features are cached in the data directory, so a second run on the same pairs only
    refits the head. Saves DATA_DIR/models/pm/NAME.{npz,json} and a PreferenceModel row
    with validation metrics, calibration (held-out accuracy with a bootstrap interval,
    split by which reply refuses; benign-set preference with a Wilson interval) and the
    hash of the training pairs.

    Example: redline pm train --pairs pairs-a.jsonl.gz --seed 0
    """
    from redline.data import harmless_base_pairs
    from redline.harmlessness.backbones import DEFAULT_RECIPE, build_featurizer
    from redline.harmlessness.pairs import PairSet, load_counter_pairs, load_pair_files
    from redline.harmlessness.provenance import PAIRS_A
    from redline.harmlessness.training import (
        pairs_from_store,
        register,
        train_preference_model,
    )

    st = state(ctx)
    if not pairs and not from_db:
        raise DataFormatError("nothing to train on: give --pairs FILE and/or --from-db")
    data = PairSet()
    if pairs:
        data.extend(load_pair_files(pairs))
    if from_db:
        data.extend(pairs_from_store(st.store))
    if limit:
        data.pairs = data.pairs[:limit]
    skipped = sum(data.skipped.values())
    packaged = data.data_hash() == load_pair_files([harmless_base_pairs()]).data_hash()
    source = PAIRS_A if packaged else f"pairs:{data.data_hash()[:16]}"
    counter = load_counter_pairs() if counter_pairs else None
    extra = f", {len(counter.pairs)} counter-bias pairs (training side)" if counter else ""
    err_console.print(f"{len(data.pairs)} pairs{extra}, {skipped} skipped {dict(data.skipped)}")
    recipe = {**DEFAULT_RECIPE, "backbone": backbone}
    featurizer = build_featurizer(recipe)
    with progress() as bar:
        total = 2 * (len(data.pairs) + (len(counter.pairs) if counter else 0))
        task = bar.add_task("features", total=total)
        outcome = train_preference_model(
            data,
            st.settings,
            recipe=recipe,
            featurizer=featurizer,
            head=head,
            seed=seed,
            val_fraction=val_fraction,
            progress=lambda n: bar.advance(task, n),
            counter=counter,
            fit_on=fit_on,
            source=source,
        )
    if not packaged:  # other pairs may include packaged ones: assume they share data
        outcome.model.training["trained_on"].append(PAIRS_A)
    outcome.model.metrics.update(
        _calibration(
            outcome.model,
            featurizer,
            [data.pairs[i] for i in outcome.val],
            st.settings,
            benign=benign_eval,
            seed=seed,
        )
    )
    path = register(st.store, st.settings, outcome.model, name)
    if out is not None:
        outcome.model.save(out)
    metrics = outcome.model.metrics
    console.print_json(
        json.dumps(
            {
                "name": name,
                "path": str(path),
                "identity": outcome.model.identity,
                "skipped": dict(data.skipped),
                **metrics,
            }
        )
    )


def _calibration(
    model: Any,
    featurizer: Any,
    held_out: list[Any],
    settings: Any,
    *,
    benign: bool,
    seed: int,
) -> dict[str, Any]:
    """``held_out``: accuracy on the validation pairs with a bootstrap interval and split by
    which reply the refusal detector flags; ``benign``: the share of the shipped benign
    items whose helpful answer scores above the refusal (Wilson interval). Computed by the
    calibration functions ``redline judge eval`` uses, so the two report the same numbers;
    printed as one summary line. Why at training time: a PM that is right on average
    can still reward refusing (issue 15), and that must show where the model is made."""
    from redline.harmlessness import PreferenceModelScorer
    from redline.harmlessness.training import feature_cache_dir
    from redline.judges import calibration as cal
    from redline.judges.benign import load_benign
    from redline.judges.pm import PreferenceModelJudge
    from redline.judges.refusal import RefusalLexiconJudge

    scorer = PreferenceModelScorer(
        model, featurizer=featurizer, cache_dir=feature_cache_dir(settings)
    )
    judge = PreferenceModelJudge(scorer)
    out: dict[str, Any] = {}
    lines = []
    if held_out:
        out["held_out"] = cal.evaluate_pairs(
            judge, held_out, refusal=RefusalLexiconJudge(), seed=seed
        )
        acc, split = out["held_out"]["accuracy"], out["held_out"]["by_refusal"]
        lines.append(
            f"held-out accuracy {acc['value']:.3f} [{acc['lo']:.3f}, {acc['hi']:.3f}]"
            f" ({len(held_out)} pairs); when the rejected reply refuses"
            f" {split['rejected_refuses']['value']:.2f} (n={split['rejected_refuses']['n']}),"
            f" the chosen {split['chosen_refuses']['value']:.2f}"
            f" (n={split['chosen_refuses']['n']})"
        )
    if benign:
        out["benign"] = cal.evaluate_benign(judge, list(load_benign()))
        share = out["benign"]["prefers_helpful"]
        lines.append(
            f"benign set: helpful preferred to the refusal in {share['value']:.1%}"
            f" [{share['lo']:.1%}, {share['hi']:.1%}] of {share['n']} items"
            f" (bar {cal.BENIGN_BAR:.0%})"
        )
    for line in lines:
        err_console.print(line)
    return out


@pm_app.command("eval")
def eval_(
    ctx: typer.Context,
    pairs: Path = typer.Argument(..., help="hh-rlhf comparison file (chosen = less harmful)."),
    model: Path | None = typer.Option(
        None, "--model", help="PM .json file (default: REDLINE_PM or the packaged model)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    limit: int = typer.Option(0, "--limit", help="Evaluate only the first N pairs (0 = all)."),
) -> None:
    """Measure a PM on comparison pairs: accuracy, AUC, log loss.

    Accuracy is the share of pairs whose chosen reply scores higher; AUC is reply-level
    (chosen vs rejected replies across all pairs); unusable pairs are skipped and counted.

    Example: redline pm eval pairs-b.jsonl.gz --json
    """
    from redline.harmlessness import PreferenceModelScorer, default_pm_path
    from redline.harmlessness.bradley_terry import pair_metrics
    from redline.harmlessness.pairs import load_pair_files
    from redline.harmlessness.training import feature_cache_dir, featurize_pairs

    st = state(ctx)
    data = load_pair_files([pairs])
    if limit:
        data.pairs = data.pairs[:limit]
    if not data.pairs:
        raise DataFormatError(f"no usable pairs (skipped: {dict(data.skipped)})", path=str(pairs))
    scorer = PreferenceModelScorer.from_file(model or default_pm_path(st.settings))
    with progress() as bar:
        task = bar.add_task("features", total=2 * len(data.pairs))
        chosen, rejected = featurize_pairs(
            data,
            scorer.featurizer,
            feature_cache_dir(st.settings),
            progress=lambda n: bar.advance(task, n),
        )
    result = {
        **pair_metrics(scorer.model.head, chosen, rejected),
        "skipped": sum(data.skipped.values()),
    }
    if as_json:
        print(json.dumps(result))
    else:
        console.print(
            f"{result['pairs']} pairs: accuracy {result['accuracy']:.3f}, AUC {result['auc']:.3f},"
            f" log loss {result['log_loss']:.3f} ({result['skipped']} skipped)"
        )
