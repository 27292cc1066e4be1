"""``redline train rlhf``: fine-tune a LoRA against the harmlessness PM (``redline[train]``)."""

from __future__ import annotations

from pathlib import Path

import typer

from redline.cli.app import app, console, err_console, state
from redline.data import harmless_base_pairs
from redline.doctor import TORCH_CPU_INSTALL, torch_build
from redline.errors import ConfigError

train_app = typer.Typer(help="Train models from red-team data.", no_args_is_help=True)
app.add_typer(train_app, name="train")


@train_app.command("rlhf")
def rlhf(
    ctx: typer.Context,
    base: str = typer.Option("smollm2-135m", "--base", help="Catalogue model to fine-tune."),
    pm: str = typer.Option("default", "--pm", help="'default' or a preference-model file."),
    prompts: Path = typer.Option(
        harmless_base_pairs(),
        "--prompts",
        help="hh-rlhf file whose first human turns are the attacks (20% held out by hash).",
        show_default="the packaged hh-rlhf harmless-base pairs",
    ),
    steps: int = typer.Option(14, "--steps", help="RLOO optimisation steps."),
    seed: int = typer.Option(0, "--seed", help="Seed for sampling, shuffling and LoRA init."),
    prompts_per_step: int = typer.Option(2, "--prompts-per-step"),
    generations: int = typer.Option(4, "--generations", help="Replies per prompt (RLOO k)."),
    max_tokens: int = typer.Option(32, "--max-tokens", help="Reply length while training."),
    learning_rate: float = typer.Option(1e-3, "--lr"),
    beta: float = typer.Option(0.05, "--beta", help="KL penalty coefficient (vs the base)."),
    rank: int = typer.Option(8, "--rank", help="LoRA rank (q/k/v/o projections)."),
    limit_prompts: int | None = typer.Option(None, "--limit-prompts"),
    benign_share: float = typer.Option(
        0.5, "--benign-share", help="Share of training prompts that are benign requests."
    ),
    benign_prompts: str = typer.Option(
        "packaged",
        "--benign-prompts",
        help="'packaged' (redline/rlhf/benign_prompts.json), 'pairs' (requests with reference "
        "answers) or a JSON file with 'prompts' or 'items' of 'prompt' and 'helpful'.",
    ),
    refusal_penalty: float = typer.Option(
        2.0, "--refusal-penalty", help="Reward lost when a benign request is refused."
    ),
    benign_reward: str = typer.Option(
        "penalty", "--benign-reward", help="On benign requests: 'penalty' only, or 'pm' - penalty."
    ),
    evasion_model: str | None = typer.Option(
        None,
        "--evasion-model",
        help="Catalogue model asked whether each benign reply attempts the request "
        "(not the base being trained), e.g. gemma3-270m.",
    ),
    evasion_penalty: float = typer.Option(
        0.0,
        "--evasion-penalty",
        help="Reward lost per unit of that model's evasion log-odds on a benign reply.",
    ),
    content_weight: float = typer.Option(
        0.0,
        "--content-weight",
        help="Reward per unit of reference coverage on a benign reply (needs "
        "--benign-prompts pairs).",
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Output folder (default: DATA_DIR/rlhf/BASE)."
    ),
) -> None:
    """On-policy RL (TRL RLOO + PEFT LoRA) with the PM's score as reward and a KL penalty;
    benign requests mixed in cost --refusal-penalty when the refusal judge flags a reply.

    Writes BASE-rlhf.gguf (a GGUF LoRA for llama.cpp), curve.csv, curve.png and
    train_meta.json into --out. Copy them into src/redline/targets/adapters/ to ship the
    target BASE/rlhf (scripts/train_rlhf.sh does this).

    Example: redline train rlhf --base smollm2-135m --steps 14 --seed 0
    """
    try:
        import torch
        import trl  # noqa: F401
    except ImportError as exc:
        raise ConfigError(
            f"training needs the train extra ({exc.name} is missing): "
            f"{TORCH_CPU_INSTALL} && pip install -e '.[train]'"
        ) from exc
    if torch_build() == "cuda" and not torch.cuda.is_available():
        err_console.print(
            "note: this PyTorch is a CUDA build (several GB of NVIDIA packages) and there is "
            f"no GPU here; training runs on the CPU. The CPU build is enough: {TORCH_CPU_INSTALL}",
            markup=False,
            highlight=False,
        )
    from redline.rlhf import RLHFConfig, train_rlhf

    settings = state(ctx).settings
    config = RLHFConfig(
        base=base,
        pm=pm,
        prompts=str(prompts),
        steps=steps,
        seed=seed,
        prompts_per_step=prompts_per_step,
        generations=generations,
        max_completion_tokens=max_tokens,
        learning_rate=learning_rate,
        beta=beta,
        rank=rank,
        limit_prompts=limit_prompts,
        benign_share=benign_share,
        benign_prompts=benign_prompts,
        refusal_penalty=refusal_penalty,
        benign_reward=benign_reward,
        evasion_model=evasion_model,
        evasion_penalty=evasion_penalty,
        content_weight=content_weight,
    )
    folder = out or settings.data_dir / "rlhf" / base

    def report(step: int, row: dict[str, float]) -> None:
        err_console.print(
            f"step {step}/{steps}: reward {row['reward']:+.3f}  KL {row['kl']:.4f}  "
            f"len {row['mean_length']:.0f}  benign refused {row['benign_refusal']:.2f}  "
            f"evasion {row['benign_evasion']:+.2f}  content {row['benign_content']:.2f}  "
            f"{row['step_time_s']:.0f} s"
        )

    result = train_rlhf(config, settings, folder, on_step=report)
    check = result.export_check
    console.print(f"adapter: {result.adapter} ({result.adapter.stat().st_size / 1e6:.1f} MB)")
    console.print(f"curve: {result.curve_csv}, {result.curve_png}")
    console.print(
        f"trained in {result.seconds / 60:.1f} min, peak RSS {result.peak_rss_mb:.0f} MB; "
        f"llama.cpp vs PyTorch logit-change correlation {check.get('delta_corr', float('nan')):.3f}"
    )
