"""``redline pm train`` and ``redline pm eval``: the harmlessness preference model."""

from __future__ import annotations

import json
from pathlib import Path

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
    limit: int = typer.Option(0, "--limit", help="Use only the first N pairs (0 = all)."),
    out: Path | None = typer.Option(
        None, "--out", help="Also write the model here (e.g. the packaged default)."
    ),
) -> None:
    """Train a Bradley-Terry PM on LM hidden-state features and register it.

    Features are cached in the data directory, so a second run on the same pairs only
    refits the head. Saves DATA_DIR/models/pm/NAME.{npz,json} and a PreferenceModel row
    with validation metrics and the hash of the training pairs.

    Example: redline pm train --pairs pairs-a.jsonl.gz --seed 0
    """
    from redline.harmlessness.backbones import DEFAULT_RECIPE
    from redline.harmlessness.pairs import PairSet, load_pair_files
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
    err_console.print(f"{len(data.pairs)} pairs, {skipped} skipped {dict(data.skipped)}")
    recipe = {**DEFAULT_RECIPE, "backbone": backbone}
    with progress() as bar:
        task = bar.add_task("features", total=2 * len(data.pairs))
        outcome = train_preference_model(
            data,
            st.settings,
            recipe=recipe,
            head=head,
            seed=seed,
            val_fraction=val_fraction,
            progress=lambda n: bar.advance(task, n),
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
