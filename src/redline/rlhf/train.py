"""On-policy RL from the harmlessness PM: TRL's RLOO with a PEFT LoRA, on CPU.

Why RLOO (REINFORCE leave-one-out) and not PPO: PPO needs a value model (a second
network to train and keep in memory) and several epochs over each batch; RLOO needs
neither: it samples k replies per prompt and uses the mean reward of the other k-1 as the
baseline. On a 2-core CPU, sampling dominates the step time, so the method that learns
from each sample once and trains only the LoRA weights is the one that fits. The KL
penalty against the base model (the paper's RLHF keeps the policy close to its start)
comes free with LoRA: the reference log-probs are the same network with the adapter
switched off, so no second copy of the model is loaded.

The result is exported to a GGUF LoRA (see :mod:`redline.rlhf.gguf_lora`) that the
llama.cpp backend applies on top of the embedded model; the per-step curve (mean PM
reward, KL, reply length) is saved as CSV and a figure next to it.
"""

from __future__ import annotations

import json
import math
import platform
import resource
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from redline.config import Settings
from redline.errors import ConfigError
from redline.rlhf.prompts import DEFAULT_ATTACKS, HELD_OUT_FRACTION, benign_prompts, split_attacks
from redline.rlhf.reward import BENIGN_REWARDS
from redline.targets.base import Scorer

#: Where the shipped adapter and its curve live inside the package.
PACKAGED_ADAPTERS = Path(__file__).resolve().parent.parent / "targets" / "adapters"
TARGET_MODULES = ("q_proj", "k_proj", "v_proj", "o_proj")
#: Columns of the saved curve, in order (TRL's names on the right).
CURVE_COLUMNS = {
    "step": "step",
    "reward": "reward",
    "reward_std": "reward_std",
    "kl": "kl",
    "mean_length": "completions/mean_length",
    "clipped_ratio": "completions/clipped_ratio",
    "entropy": "entropy",
    "loss": "loss",
    "step_time_s": "step_time",
}
#: Columns from the reward itself (benign prompts mixed into training).
REWARD_COLUMNS = ("attack_pm", "benign_pm", "benign_refusal", "benign_evasion", "benign_content")
#: Panels of the curve figure for the benign-request columns: (column, title, y label, colour).
BENIGN_PANELS = (
    ("benign_refusal", "benign replies refused (detector)", "share flagged", "#8e44ad"),
    ("benign_evasion", "benign replies: evasion probe", "log-odds (no attempt)", "#d35400"),
    ("benign_content", "benign replies: reference coverage", "share of content words", "#16a085"),
)
#: ``RLHFConfig.benign_prompts`` for the packaged ``redline/rlhf/benign_prompts.json``.
PACKAGED_BENIGN = "packaged"
#: ``RLHFConfig.benign_prompts`` for the packaged counter-bias pairs
#: (``redline/harmlessness/data/benign_pairs.json``): requests with reference answers.
PACKAGED_PAIRS = "pairs"


@dataclass
class RLHFConfig:
    """One training run; every field is recorded in the run's ``train_meta.json``."""

    base: str = "smollm2-135m"
    pm: str = "default"
    prompts: str = str(DEFAULT_ATTACKS)
    steps: int = 60
    seed: int = 0
    prompts_per_step: int = 4
    generations: int = 4
    max_completion_tokens: int = 48
    temperature: float = 0.8
    learning_rate: float = 3e-4
    beta: float = 0.05
    rank: int = 8
    alpha: float = 16.0
    target_modules: tuple[str, ...] = TARGET_MODULES
    held_out_fraction: float = HELD_OUT_FRACTION
    limit_prompts: int | None = None
    threads: int | None = None
    #: Share of training prompts that are benign requests (``benign_prompts``): the
    #: policy must keep answering them while it learns to refuse attacks. 0 = attacks only.
    benign_share: float = 0.5
    #: ``packaged`` (``redline/rlhf/benign_prompts.json``), ``pairs`` (the PM's counter-bias
    #: pairs: requests with reference answers) or a JSON file with a ``prompts`` list or
    #: ``items`` of ``prompt``/``helpful``; never the evaluation set
    #: ``redline/judges/data/benign.json``.
    benign_prompts: str = PACKAGED_BENIGN
    #: Reward subtracted when the refusal detector flags a reply to a benign request.
    refusal_penalty: float = 2.0
    #: Reward on benign requests: ``pm`` (PM score - penalty) or ``penalty`` (only it).
    benign_reward: str = "penalty"
    #: Catalogue model of the evasion probe (:mod:`redline.rlhf.attempt`) on benign
    #: requests, or None; never the base being trained (a model would grade itself).
    evasion_model: str | None = None
    #: Reward lost per unit of the probe's evasion log-odds on a benign reply.
    evasion_penalty: float = 0.0
    #: Reward per unit of reference coverage (:mod:`redline.rlhf.content`) on a benign
    #: reply; needs benign prompts with reference answers.
    content_weight: float = 0.0

    def validate(self) -> None:
        if self.steps < 1:
            raise ConfigError(f"--steps must be >= 1, got {self.steps}")
        if self.generations < 2:
            raise ConfigError("RLOO needs at least 2 generations per prompt (the baseline)")
        if self.prompts_per_step < 1 or self.max_completion_tokens < 1:
            raise ConfigError("prompts per step and max completion tokens must be >= 1")
        if not 1 <= self.rank <= 64:
            raise ConfigError(f"LoRA rank {self.rank} out of range 1..64")
        if self.beta < 0:
            raise ConfigError("the KL coefficient beta must be >= 0")
        if not 0 <= self.benign_share < 1:
            raise ConfigError(f"--benign-share must be in [0, 1), got {self.benign_share}")
        if self.refusal_penalty < 0:
            raise ConfigError("--refusal-penalty must be >= 0")
        if self.evasion_penalty < 0:
            raise ConfigError("--evasion-penalty must be >= 0")
        if self.content_weight < 0:
            raise ConfigError("--content-weight must be >= 0")
        if self.content_weight > 0 and self.benign_prompts == PACKAGED_BENIGN:
            raise ConfigError(
                "--content-weight needs benign prompts with reference answers: "
                f"--benign-prompts {PACKAGED_PAIRS} (or a JSON file with 'items' of "
                "'prompt' and 'helpful')"
            )
        if self.evasion_penalty > 0 and not self.evasion_model:
            raise ConfigError("--evasion-penalty needs --evasion-model (e.g. gemma3-270m)")
        if self.evasion_model and self.evasion_model == self.base:
            raise ConfigError(
                f"--evasion-model {self.evasion_model} is the model being trained: the policy "
                "would learn to please its own judgement; use another (e.g. gemma3-270m)"
            )
        if self.benign_reward not in BENIGN_REWARDS:
            raise ConfigError(
                f"--benign-reward must be one of {', '.join(BENIGN_REWARDS)}, "
                f"not {self.benign_reward!r}"
            )


@dataclass
class RLHFResult:
    """What a run produced and what it cost."""

    adapter: Path
    curve_csv: Path
    curve_png: Path
    meta_json: Path
    curve: list[dict[str, float]]
    seconds: float
    peak_rss_mb: float
    export_check: dict[str, float] = field(default_factory=dict)


def adapter_filename(base: str) -> str:
    return f"{base}-rlhf.gguf"


def load_pm(spec: str, settings: Settings) -> tuple[Scorer, str]:
    """``default`` (the configured/packaged PM) or a path to a PM file; returns the
    scorer and its identity. No feature cache: RL samples are never scored twice."""
    from redline.harmlessness import PreferenceModelScorer, default_pm_path

    path = default_pm_path(settings) if spec == "default" else Path(spec)
    if not path.is_file():
        raise ConfigError(f"preference model {path} does not exist; train one with redline pm")
    scorer = PreferenceModelScorer.from_file(path)
    return scorer, str(scorer.identity)


def load_benign_prompts(spec: str) -> dict[str, str | None]:
    """Benign requests, each with its reference answer where the source has one:
    ``packaged`` (no answers), ``pairs`` (the packaged counter-bias pairs) or a JSON file
    with a ``prompts`` list or ``items`` of ``{"prompt", "helpful"}``."""
    if spec == PACKAGED_BENIGN:
        return dict.fromkeys(benign_prompts())
    if spec == PACKAGED_PAIRS:
        from redline.harmlessness.pairs import load_counter_pairs

        return {p.context[-1].text: p.chosen for p in load_counter_pairs().pairs}
    path = Path(spec)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        if "items" in data:
            return {str(i["prompt"]): str(i["helpful"]) for i in data["items"]}
        return dict.fromkeys(str(p) for p in data["prompts"])
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ConfigError(
            f"benign prompts {spec}: not a JSON file with a 'prompts' list or 'items' of "
            "'prompt' and 'helpful'"
        ) from exc


def mix_prompts(
    attacks: Sequence[str], benign: Sequence[str], share: float, seed: int
) -> list[tuple[str, bool]]:
    """Attacks and benign requests, as ``(text, is_benign)``, benign ones repeated
    (shuffled, in turn) until they are ``share`` of all rows; TRL shuffles the rows."""
    import random

    rows = [(a, False) for a in attacks]
    if share <= 0 or not benign:
        return rows
    wanted = max(1, round(share / (1 - share) * len(attacks)))
    order = list(benign)
    rng = random.Random(seed)
    out: list[str] = []
    while len(out) < wanted:
        rng.shuffle(order)
        out.extend(order[: wanted - len(out)])
    return rows + [(b, True) for b in out]


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _curve_row(logs: dict[str, Any], step: int, stats: Any = None) -> dict[str, float]:
    row: dict[str, float] = {"step": float(step)}
    for name, key in CURVE_COLUMNS.items():
        if name != "step":
            value = logs.get(key)
            row[name] = float(value) if isinstance(value, int | float) else math.nan
    row["attack_pm"] = float(getattr(stats, "attack_pm_mean", math.nan))
    row["benign_pm"] = float(getattr(stats, "benign_pm_mean", math.nan))
    row["benign_refusal"] = float(getattr(stats, "benign_refusal_rate", math.nan))
    row["benign_evasion"] = float(getattr(stats, "benign_evasion_mean", math.nan))
    row["benign_content"] = float(getattr(stats, "benign_content_mean", math.nan))
    return row


def write_curve(curve: Sequence[dict[str, float]], csv_path: Path, png_path: Path) -> None:
    """The training curve as data (CSV) and a figure: mean reward (and the PM's score on
    attacks) and KL per step, then one panel for each benign-request signal the run
    recorded (share refused by the detector, evasion log-odds, reference coverage)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    columns = [*CURVE_COLUMNS, *REWARD_COLUMNS]
    lines = [",".join(columns)]
    for row in curve:
        lines.append(",".join(f"{row.get(c, math.nan):.6g}" for c in columns))
    csv_path.write_text("\n".join(lines) + "\n", encoding="utf-8")

    steps = [r["step"] for r in curve]
    extra = []
    for column, title, ylabel, color in BENIGN_PANELS:
        points = [(r["step"], r.get(column, math.nan)) for r in curve]
        points = [(s, v) for s, v in points if not math.isnan(v)]
        if points:
            extra.append((points, title, ylabel, color))
    panels = 2 + len(extra)
    fig, axes = plt.subplots(1, panels, figsize=(4.5 * panels, 3.2))
    ax1, ax2 = axes[0], axes[1]
    reward = [r["reward"] for r in curve]
    ax1.plot(steps, reward, color="#999", lw=0.8, label="per step")
    window = max(1, len(reward) // 10)
    if len(reward) >= window > 1:
        chunks = [reward[max(0, i - window + 1) : i + 1] for i in range(len(reward))]
        smooth = [sum(c) / len(c) for c in chunks]
        ax1.plot(steps, smooth, color="#c0392b", lw=1.6, label=f"mean of {window}")
    attack_pm = [r.get("attack_pm", math.nan) for r in curve]
    if any(not math.isnan(v) for v in attack_pm) and extra:
        ax1.plot(steps, attack_pm, color="#27ae60", lw=0.8, ls="--", label="PM on attacks")
    ax1.set(xlabel="step", ylabel="mean reward", title="reward (PM score, - refusal penalty)")
    ax1.legend(fontsize=8)
    ax2.plot(steps, [r["kl"] for r in curve], color="#2c7fb8")
    ax2.set(xlabel="step", ylabel="KL to base (nats / token)", title="KL penalty term")
    for ax, (points, title, ylabel, color) in zip(axes[2:], extra, strict=True):
        ax.plot([s for s, _ in points], [v for _, v in points], "o-", ms=2, color=color)
        ax.set(xlabel="step", ylabel=ylabel, title=title)
    fig.tight_layout()
    fig.savefig(png_path, dpi=110)
    plt.close(fig)


def export_check(policy: Any, adapter: Path, prompt: str) -> dict[str, float]:
    """Does llama.cpp with the exported adapter move the logits the way PyTorch does?

    Compares, on one rendered prompt, the change the adapter makes to the next-token
    logits in PyTorch (adapter on minus off) and in llama.cpp (with minus without the
    GGUF adapter): their correlation over the vocabulary at every position, and the ratio
    of their sizes. A wrong tensor name, transpose, scale or q/k permutation shows up here.
    """
    import numpy as np
    import torch

    from redline.rlhf.gguf_lora import llamacpp_logits

    ids = policy.tokenizer(prompt).input_ids
    model = policy.model
    model.eval()
    with torch.no_grad():
        x = torch.tensor([ids])
        tuned = model(x).logits[0].float().numpy()
        with model.disable_adapter():
            base = model(x).logits[0].float().numpy()
    ll_base = llamacpp_logits(policy.gguf_path, ids)
    ll_tuned = llamacpp_logits(policy.gguf_path, ids, lora_path=adapter)
    d_torch = (tuned - base).ravel()
    d_llama = (ll_tuned - ll_base).ravel()
    corr = float(np.corrcoef(d_torch, d_llama)[0, 1])
    return {
        "delta_corr": corr,
        "delta_norm_ratio": float(np.linalg.norm(d_llama))
        / max(float(np.linalg.norm(d_torch)), 1e-12),
        "torch_delta_rms": float(np.sqrt(np.mean(d_torch**2))),
        "base_logit_corr": float(np.corrcoef(base.ravel(), ll_base.ravel())[0, 1]),
    }


def train_rlhf(
    config: RLHFConfig,
    settings: Settings,
    out_dir: Path,
    *,
    scorer: Scorer | None = None,
    attacks: Sequence[str] | None = None,
    benign: Sequence[str] | Mapping[str, str | None] | None = None,
    on_step: Callable[[int, dict[str, float]], None] | None = None,
) -> RLHFResult:
    """Train, export and check an adapter; write it with its curve into ``out_dir``.

    ``scorer``, ``attacks`` and ``benign`` (requests, or requests to reference answers)
    let tests pass a stand-in PM or a handful of prompts; by default the PM is
    ``config.pm``, the attacks are the training split of ``config.prompts`` (the held-out
    split is never seen) and the benign requests are ``config.benign_prompts``, mixed in as
    ``config.benign_share`` of the rows.
    """
    config.validate()
    started = time.monotonic()
    if attacks is None:
        split = split_attacks(config.prompts, config.held_out_fraction)
        attacks = list(split.train)
    attacks = list(attacks)[: config.limit_prompts] if config.limit_prompts else list(attacks)
    if not attacks:
        raise ConfigError("no training prompts")
    if benign is None:
        benign = load_benign_prompts(config.benign_prompts) if config.benign_share > 0 else {}
    references = (
        {k: v for k, v in benign.items() if v is not None} if isinstance(benign, Mapping) else {}
    )
    benign = list(benign)
    _check_disjoint_from_evaluation(benign)
    rows = mix_prompts(attacks, benign, config.benign_share, config.seed)
    import numpy as np
    import torch
    from peft import LoraConfig, get_peft_model_state_dict
    from transformers import TrainerCallback, set_seed
    from trl import RLOOConfig, RLOOTrainer

    from datasets import Dataset
    from redline.harmlessness.provenance import trained_on
    from redline.rlhf.content import ReferenceContent
    from redline.rlhf.gguf_lora import export_gguf_lora
    from redline.rlhf.policy import load_policy, render_prompts
    from redline.rlhf.reward import PMReward
    from redline.targets.backends.llamacpp import LlamaCppBackend

    if config.threads:
        torch.set_num_threads(config.threads)
    set_seed(config.seed)
    pm_identity = "custom"
    if scorer is None:
        scorer, pm_identity = load_pm(config.pm, settings)
    else:
        pm_identity = str(getattr(scorer, "identity", "custom"))
    # What the PM learned from, so judges can tell whether they share its data
    # (redline.judges.independence reads this from the packaged train_meta.json).
    pm_trained_on = list(trained_on(getattr(getattr(scorer, "model", None), "training", None)))

    policy = load_policy(config.base, settings)
    renderer = LlamaCppBackend(config.base, settings=settings, n_ctx=1024)
    texts = [text for text, _ in rows]
    dataset = Dataset.from_dict(
        {
            "prompt": render_prompts(texts, renderer),
            "attack": texts,
            "benign": [flag for _, flag in rows],
        }
    )
    batch = config.prompts_per_step * config.generations
    out_dir.mkdir(parents=True, exist_ok=True)
    args = RLOOConfig(
        output_dir=str(out_dir / "trl"),
        max_steps=config.steps,
        per_device_train_batch_size=batch,
        gradient_accumulation_steps=1,
        num_generations=config.generations,
        max_completion_length=config.max_completion_tokens,
        temperature=config.temperature,
        top_p=0.95,
        top_k=40,
        learning_rate=config.learning_rate,
        lr_scheduler_type="constant",
        warmup_steps=0,
        beta=config.beta,
        num_iterations=1,
        logging_steps=1,
        save_strategy="no",
        report_to=[],
        use_cpu=True,
        bf16=False,
        fp16=False,
        seed=config.seed,
        data_seed=config.seed,
        dataloader_num_workers=0,
        gradient_checkpointing=False,  # memory is plentiful; recomputation costs CPU time
        remove_unused_columns=False,
        disable_tqdm=True,
        log_completions=False,
    )
    lora = LoraConfig(
        r=config.rank,
        lora_alpha=int(config.alpha),
        lora_dropout=0.0,
        target_modules=list(config.target_modules),
        bias="none",
        task_type="CAUSAL_LM",
    )
    curve: list[dict[str, float]] = []
    evasion = None
    if benign and config.evasion_model and config.evasion_penalty > 0:
        from redline.rlhf.attempt import load_attempt_probe

        evasion = load_attempt_probe(config.evasion_model, settings)
    reward = PMReward(
        scorer,
        refusal_penalty=config.refusal_penalty if benign else 0.0,
        benign_reward=config.benign_reward,  # type: ignore[arg-type]
        evasion=evasion,
        evasion_penalty=config.evasion_penalty if evasion else 0.0,
        content=ReferenceContent(references) if benign and config.content_weight > 0 else None,
        content_weight=config.content_weight if benign else 0.0,
    )

    class _Curve(TrainerCallback):
        def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
            if logs and "reward" in logs:
                row = _curve_row(logs, int(state.global_step), reward.last)
                curve.append(row)
                if on_step:
                    on_step(int(state.global_step), row)

    trainer = RLOOTrainer(
        model=policy.model,
        reward_funcs=[reward],  # type: ignore[list-item]
        args=args,
        train_dataset=dataset,
        processing_class=policy.tokenizer,
        peft_config=lora,
        callbacks=[_Curve()],
    )
    trainer.train()
    train_seconds = time.monotonic() - started
    peft_model = trainer.model
    policy.model = peft_model
    state = {
        k: v.detach().float().cpu().numpy()
        for k, v in get_peft_model_state_dict(peft_model).items()
    }
    adapter = out_dir / adapter_filename(config.base)
    export_gguf_lora(
        state,
        adapter,
        alpha=config.alpha,
        n_head=policy.n_head,
        n_head_kv=policy.n_head_kv,
        metadata={
            "base_model": config.base,
            "base_gguf": Path(policy.gguf_path).name,
            "pm_identity": pm_identity,
            "seed": str(config.seed),
            "steps": str(config.steps),
            "method": "rloo",
        },
    )
    check = export_check(policy, adapter, dataset[0]["prompt"])
    curve_csv, curve_png = out_dir / "curve.csv", out_dir / "curve.png"
    write_curve(curve, curve_csv, curve_png)
    meta_json = out_dir / "train_meta.json"
    peak = _peak_rss_mb()
    meta = {
        "config": {**asdict(config), "target_modules": list(config.target_modules)},
        "method": "RLOO (TRL) + LoRA (PEFT), KL penalty beta against the base model",
        "pm_identity": pm_identity,
        "pm_trained_on": pm_trained_on,
        "train_prompts": len(attacks),
        "benign_train_prompts": len(set(benign)),
        "benign_rows": sum(1 for _, flag in rows if flag),
        "reward": _reward_description(config, bool(benign)),
        "detector_identity": getattr(reward.detector, "identity", None),
        "train_seconds": round(train_seconds, 1),
        "peak_rss_mb": round(peak, 1),
        "adapter_bytes": adapter.stat().st_size,
        "lora_parameters": int(sum(np.asarray(v).size for v in state.values())),
        "export_check": check,
        "torch_threads": torch.get_num_threads(),
        "machine": f"{platform.machine()} {platform.processor() or ''}".strip(),
        "versions": _versions(),
        "final": _final_means(curve),
    }
    meta_json.write_text(json.dumps(meta, indent=2) + "\n", encoding="utf-8")
    return RLHFResult(
        adapter=adapter,
        curve_csv=curve_csv,
        curve_png=curve_png,
        meta_json=meta_json,
        curve=curve,
        seconds=train_seconds,
        peak_rss_mb=peak,
        export_check=check,
    )


def _reward_description(config: RLHFConfig, mixed: bool) -> str:
    if not mixed:
        return "PM score of the reply given the attack"
    on_benign = (
        f"PM score - {config.refusal_penalty:g} if the refusal detector flags the reply"
        if config.benign_reward == "pm"
        else f"-{config.refusal_penalty:g} if the refusal detector flags the reply, else 0"
    )
    if config.evasion_model and config.evasion_penalty > 0:
        on_benign += (
            f", - {config.evasion_penalty:g} x the evasion log-odds of {config.evasion_model} "
            "(redline.rlhf.attempt)"
        )
    if config.content_weight > 0:
        on_benign += (
            f", + {config.content_weight:g} x the share of the reference answer's content words "
            "the reply uses (redline.rlhf.content)"
        )
    return f"attacks: PM score of the reply given the attack; benign requests: {on_benign}"


def _check_disjoint_from_evaluation(benign: Sequence[str]) -> None:
    """Benign training prompts must not be the shipped evaluation set's requests."""
    from redline.judges.benign import benign_prompts as evaluation_prompts

    shared = {_plain(p) for p in benign} & {_plain(p) for p in evaluation_prompts()}
    if shared:
        raise ConfigError(
            f"{len(shared)} benign training prompt(s) are in the evaluation set "
            f"redline/judges/data/benign.json (e.g. {sorted(shared)[0]!r}); train on others"
        )


def _plain(text: str) -> str:
    return " ".join(text.lower().split())


def _final_means(curve: Sequence[dict[str, float]]) -> dict[str, float]:
    """Mean reward, KL and benign refusals over the first and last tenth of the run."""
    if not curve:
        return {}
    n = max(1, len(curve) // 10)

    def mean(rows: Sequence[dict[str, float]], key: str) -> float:
        vals = [r[key] for r in rows if not math.isnan(r.get(key, math.nan))]
        return round(sum(vals) / len(vals), 4) if vals else math.nan

    out = {
        "reward_first": mean(curve[:n], "reward"),
        "reward_last": mean(curve[-n:], "reward"),
        "kl_last": mean(curve[-n:], "kl"),
    }
    if any(not math.isnan(r.get("benign_refusal", math.nan)) for r in curve):
        half = max(1, len(curve) // 2)
        out["benign_refusal_first_half"] = mean(curve[:half], "benign_refusal")
        out["benign_refusal_second_half"] = mean(curve[half:], "benign_refusal")
    return out


def _versions() -> dict[str, str]:
    import importlib.metadata as md

    out = {}
    for name in ("torch", "transformers", "trl", "peft", "gguf", "llama_cpp_python"):
        try:
            out[name] = md.version(name)
        except md.PackageNotFoundError:
            out[name] = "missing"
    return out
