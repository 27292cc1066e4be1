"""Does fine-tuning the backbone as a reward model (LoRA) beat the packaged frozen probe?

Issue 15, Deliver 4 asks to try "fine-tuning the backbone as a reward model with LoRA"
beside the packaged PM, by measurement on held-out pairs. The packaged PM is a frozen-
backbone probe (mean of the final-layer states over the reply tokens, linear
Bradley-Terry head); it reaches ~0.63-0.66 on the seeded 20% of pairs-a. Here the same
backbone (dequantised from its packaged GGUF, nothing from a model hub), the same
rendered text (the featurizer's own prompt and tokens, cut from the left to
``--max-len``) and the same pooling feed a scalar head, and LoRA (q_proj, v_proj) adapts
the top ``--train-layers`` decoder layers, all trained with the Bradley-Terry loss.

Why it is feasible on 2 CPU cores: the layers below the LoRA ones are frozen, so each
text goes through them once (no grad) and their output is kept in memory; a training
step then runs only the top layers and the head, forward and backward. Before training,
the split forward is checked against a full forward (LoRA at init, B = 0), and the
pooled state against the packaged llama.cpp feature (cosine).

Measures (one JSON line each, ``{"bench": "pm_lora", ...}``, then a summary), like
``pm_study.py``: held-out accuracy on the seeded 20% (bootstrap interval), pairwise AUC,
the accuracy split by which reply the refusal detector flags, the share of the shipped
benign set whose helpful answer scores above the refusal (Wilson interval), and the
cost: cache seconds per text, seconds per training step, total time.

    python benchmarks/pm_lora.py                                  # full run, counter pairs
    python benchmarks/pm_lora.py --no-counter --epochs 2
    python benchmarks/pm_lora.py --max-train 400 --seed 1         # a learning-curve point
    python benchmarks/pm_lora.py --threads 1 --max-train 16 --max-eval 16 --max-len 96 \
        --no-counter                                              # smoke test
"""

from __future__ import annotations

import argparse
import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from redline.data import harmless_base_pairs
from redline.harmlessness.features import GGUFFeaturizer
from redline.harmlessness.pairs import Pair, load_counter_pairs, load_pair_files
from redline.harmlessness.training import split_indices
from redline.judges import calibration as cal
from redline.judges.benign import load_benign
from redline.judges.refusal import RefusalLexiconJudge
from redline.statistics import mean_ci, wilson

try:
    import torch
    from peft import LoraConfig, inject_adapter_in_model
    from torch import nn
except ImportError as exc:  # pragma: no cover - the train extra
    raise SystemExit(f"pm_lora needs torch and peft ({exc}): pip install 'redline[train]'") from exc


def emit(metric: str, value: Any, **extra: Any) -> None:
    print(json.dumps({"bench": "pm_lora", "metric": metric, "value": value, **extra}), flush=True)


@dataclass
class Text:
    """One (context, reply) as the packaged PM reads it: token ids, reply at the end."""

    ids: list[int]
    n_reply: int


def render(featurizer: GGUFFeaturizer, context: Sequence[Any], reply: str, max_len: int) -> Text:
    """The featurizer's own prompt and tokens (chat template, bounded context, reply cut to
    its ``max_reply_tokens``), so the two PMs read the same ids; then cut from the left."""
    tokens = featurizer.tokens(featurizer.render_prefix(tuple(context)), reply)
    ids = (tokens.prefix + tokens.reply)[-max_len:]
    return Text(ids, min(len(tokens.reply), len(ids)))


class LoraRewardModel(nn.Module):
    """A llama backbone with LoRA on its top layers and a scalar head on the reply mean."""

    def __init__(self, backbone: Any, train_layers: int, rank: int, cache_dtype: Any) -> None:
        super().__init__()
        n = backbone.config.num_hidden_layers
        if not 0 < train_layers <= n:
            raise SystemExit(f"--train-layers must be in 1..{n}")
        self.backbone, self.split, self.cache_dtype = backbone, n - train_layers, cache_dtype
        for p in backbone.parameters():
            p.requires_grad_(False)
        config = LoraConfig(
            r=rank,
            lora_alpha=16,
            lora_dropout=0.05,
            target_modules=["q_proj", "v_proj"],
            layers_to_transform=list(range(self.split, n)),
            layers_pattern="layers",
        )
        inject_adapter_in_model(config, backbone)  # B = 0: the backbone is unchanged at init
        for name, p in backbone.named_parameters():
            p.requires_grad_("lora_" in name)
        self.head = nn.Linear(backbone.config.hidden_size, 1)

    def _layers(self, layers: Any, hidden: Any, mask: Any) -> Any:
        """Decoder layers as ``LlamaModel.forward`` calls them: positions 0..L-1 (right
        padding keeps every real token's position), the causal mask built from the 2D
        padding mask, the rotary embeddings of those positions, no cache."""
        from transformers.masking_utils import create_causal_mask

        positions = torch.arange(hidden.shape[1]).unsqueeze(0)
        causal = create_causal_mask(
            self.backbone.config, hidden, mask, None, position_ids=positions
        )
        rotary = self.backbone.rotary_emb(hidden, position_ids=positions)
        for layer in layers:
            hidden = layer(
                hidden, attention_mask=causal, position_embeddings=rotary, position_ids=positions
            )
        return hidden

    @torch.no_grad()
    def lower(self, text: Text) -> Any:
        """The frozen layers' output for one text (computed once, kept in memory)."""
        ids = torch.tensor([text.ids])
        hidden = self.backbone.embed_tokens(ids)
        hidden = self._layers(self.backbone.layers[: self.split], hidden, torch.ones_like(ids))
        return hidden[0].to(self.cache_dtype)

    def pooled(self, states: Sequence[Any], texts: Sequence[Text]) -> Any:
        """Top layers and final norm over right-padded cached states, mean over the reply."""
        length = max(len(t.ids) for t in texts)
        hidden = torch.zeros(len(texts), length, states[0].shape[-1])
        mask = torch.zeros(len(texts), length, dtype=torch.long)
        reply = torch.zeros(len(texts), length, 1)
        for i, (state, text) in enumerate(zip(states, texts, strict=True)):
            n = len(text.ids)
            hidden[i, :n], mask[i, :n], reply[i, n - text.n_reply : n] = state.float(), 1, 1
        hidden = self._layers(self.backbone.layers[self.split :], hidden, mask)
        hidden = self.backbone.norm(hidden)
        return (hidden * reply).sum(1) / reply.sum(1)

    def forward(self, states: Sequence[Any], texts: Sequence[Text]) -> Any:
        return self.head(self.pooled(states, texts)).squeeze(-1)


def load_backbone(path: Any) -> Any:
    """The GGUF dequantised to float32 (as ``redline.rlhf.policy`` loads it); only the
    base model is kept (the LM head is not needed)."""
    from transformers import AutoModelForCausalLM

    lm = AutoModelForCausalLM.from_pretrained(
        str(path.parent), gguf_file=path.name, dtype=torch.float32
    )
    if lm.config.model_type != "llama":
        raise SystemExit(f"the split forward mirrors llama only, got {lm.config.model_type!r}")
    return lm.model.eval()


@torch.no_grad()
def rewards(model: LoraRewardModel, cache: list[Any], texts: list[Text], idx: Sequence[int]) -> Any:
    """Rewards of texts ``idx`` (eval mode), batched by length so padding stays small."""
    model.eval()
    out = np.zeros(len(idx))
    order = sorted(range(len(idx)), key=lambda k: len(texts[idx[k]].ids))
    for start in range(0, len(order), 16):
        chunk = order[start : start + 16]
        sel = [idx[k] for k in chunk]
        out[chunk] = model([cache[i] for i in sel], [texts[i] for i in sel]).numpy()
    return out


def pick_check(texts: list[Text], candidates: range, n: int) -> list[int]:
    """``n`` texts spread over the lengths, so the check pads (the batch path's risk)."""
    ordered = sorted(candidates, key=lambda i: len(texts[i].ids))
    if not ordered or n <= 0:
        return []
    return sorted({ordered[k] for k in np.linspace(0, len(ordered) - 1, n).round().astype(int)})


def full_pooled(model: LoraRewardModel, text: Text) -> Any:
    """The reference: the backbone's own forward on one unpadded text, reply mean."""
    hidden = model.backbone(input_ids=torch.tensor([text.ids])).last_hidden_state
    return hidden[0, -text.n_reply :].mean(0)


@torch.no_grad()
def split_vs_full(
    model: LoraRewardModel, cache: list[Any], texts: list[Text], idx: list[int]
) -> float:
    """Max abs difference of the pooled state: cached-and-padded split forward vs full."""
    model.eval()
    split = model.pooled([cache[i] for i in idx], [texts[i] for i in idx])
    full = torch.stack([full_pooled(model, texts[i]) for i in idx])
    return float((split - full).abs().max())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--backbone", default="smollm2-135m")
    parser.add_argument("--counter", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--max-len", type=int, default=256, help="Tokens kept (from the left).")
    parser.add_argument("--rank", type=int, default=8)
    parser.add_argument("--train-layers", type=int, default=6, help="Top layers with LoRA.")
    parser.add_argument("--lr", type=float, default=1e-4, help="LoRA learning rate.")
    parser.add_argument("--head-lr", type=float, default=1e-3)
    parser.add_argument("--batch", type=int, default=8, help="Pairs per step.")
    parser.add_argument("--epochs", type=int, default=1)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--max-train", type=int, default=0, help="Random training subset.")
    parser.add_argument("--max-eval", type=int, default=0, help="Evaluate on a prefix only.")
    parser.add_argument("--max-steps", type=int, default=0, help="Stop early (timing runs).")
    parser.add_argument("--cache-dtype", choices=("float32", "bfloat16"), default="float32")
    parser.add_argument("--check", type=int, default=4, help="Texts in the equivalence check.")
    parser.add_argument("--threads", type=int, default=os.cpu_count() or 1)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")  # only the packaged GGUF, never a hub
    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()

    pairs = load_pair_files([harmless_base_pairs()])
    train, val = split_indices(len(pairs.pairs), cal.PM_VAL_FRACTION, cal.PM_SEED)
    if args.max_train and args.max_train < len(train):
        train = np.sort(rng.choice(train, size=args.max_train, replace=False))
    val = val[: args.max_eval] if args.max_eval else val
    train_pairs: list[Pair] = [pairs.pairs[i] for i in train]
    counter = load_counter_pairs().pairs if args.counter else []
    val_pairs = [pairs.pairs[i] for i in val]
    items = list(load_benign())[: args.max_eval or None]

    # Texts: chosen/rejected of every pair in turn (train, counter, val), then benign.
    featurizer = GGUFFeaturizer(args.backbone, n_threads=1)
    pair_list = [*train_pairs, *counter, *val_pairs]
    sources = [(p.context, r) for p in pair_list for r in (p.chosen, p.rejected)]
    sources += [(i.context, r) for i in items for r in (i.helpful, i.refusal)]
    texts = [render(featurizer, context, reply, args.max_len) for context, reply in sources]
    n_fit, n_counter = len(train_pairs) + len(counter), len(counter)
    val_base, benign_base = 2 * n_fit, 2 * len(pair_list)

    cache_dtype = getattr(torch, args.cache_dtype)
    model = LoraRewardModel(
        load_backbone(featurizer.path), args.train_layers, args.rank, cache_dtype
    )
    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    emit(
        "setup",
        {
            "train_pairs": len(train_pairs),
            "counter_pairs": n_counter,
            "val_pairs": len(val_pairs),
            "benign_items": len(items),
            "layers": model.backbone.config.num_hidden_layers,
            "trainable_params": trainable,
            "mean_tokens": float(np.mean([len(t.ids) for t in texts])),
            "truncated": int(sum(len(t.ids) == args.max_len for t in texts)),
        },
        backbone=args.backbone,
        weights=featurizer.path.name,
        args=vars(args),
    )

    from rich.console import Console
    from rich.progress import Progress

    console = Console(stderr=True)
    cache: list[Any] = []
    t0 = time.perf_counter()
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("frozen layers, once per text", total=len(texts))
        for text in texts:
            cache.append(model.lower(text))
            bar.advance(task)
    cache_s = time.perf_counter() - t0
    emit(
        "cache",
        {
            "seconds_per_text": cache_s / len(texts),
            "seconds": cache_s,
            "texts": len(texts),
            "megabytes": sum(c.numel() * c.element_size() for c in cache) / 2**20,
        },
    )

    # Check: split forward == full forward (LoRA at init), and close to llama.cpp's feature.
    check = pick_check(texts, range(val_base, benign_base), args.check)
    if check:
        cpp = featurizer.embed_spans([sources[i][0] for i in check], [sources[i][1] for i in check])
        with torch.no_grad():
            full = torch.stack([full_pooled(model, texts[i]) for i in check])
        cos = torch.nn.functional.cosine_similarity(full, torch.from_numpy(cpp), dim=-1)
        emit(
            "equivalence",
            {
                "max_abs_diff_split_vs_full": split_vs_full(model, cache, texts, check),
                "llamacpp_cosine_min": float(cos.min()),
                "lengths": [len(texts[i].ids) for i in check],
            },
            note="llama.cpp saw the whole prefix; a text of --max-len tokens was cut here",
        )
    del featurizer

    lora = [p for n, p in model.named_parameters() if p.requires_grad and "lora_" in n]
    optimizer = torch.optim.AdamW(
        [
            {"params": lora, "lr": args.lr},
            {"params": list(model.head.parameters()), "lr": args.head_lr},
        ],
        weight_decay=0.0,
    )
    steps_per_epoch = -(-n_fit // args.batch)
    total = steps_per_epoch * args.epochs
    total = min(total, args.max_steps) if args.max_steps else total
    step_s: list[float] = []
    with Progress(console=console, transient=True) as bar:
        task = bar.add_task("LoRA steps", total=total)
        for epoch in range(args.epochs):
            losses: list[float] = []
            order = rng.permutation(n_fit)
            for start in range(0, n_fit, args.batch):
                if len(step_s) >= total:
                    break
                t = time.perf_counter()
                model.train()
                idx = [j for k in order[start : start + args.batch] for j in (2 * k, 2 * k + 1)]
                r = model([cache[i] for i in idx], [texts[i] for i in idx])
                loss = -torch.nn.functional.logsigmoid(r[0::2] - r[1::2]).mean()
                optimizer.zero_grad()
                loss.backward()
                optimizer.step()
                losses.append(loss.item())
                step_s.append(time.perf_counter() - t)
                bar.update(task, advance=1, description=f"LoRA steps (loss {np.mean(losses):.3f})")
            emit("epoch", {"loss": float(np.mean(losses)) if losses else None}, epoch=epoch)
    if check:  # the eval path again, now with trained (non-zero) LoRA weights
        emit("equivalence_after_training", split_vs_full(model, cache, texts, check))
    emit(
        "train_time",
        {
            "seconds_per_step": float(np.mean(step_s)) if step_s else None,
            "median_step": float(np.median(step_s)) if step_s else None,
            "steps": len(step_s),
            "seconds": float(np.sum(step_s)),
        },
        batch=args.batch,
        max_len=args.max_len,
        threads=args.threads,
    )

    def scores(base: int, n: int) -> tuple[np.ndarray, np.ndarray]:
        r = rewards(model, cache, texts, range(base, base + 2 * n))
        return r[0::2], r[1::2]

    summary: dict[str, Any] = {}
    rc, rr = scores(val_base, len(val_pairs))
    right = np.where(rc > rr, 1.0, np.where(rc == rr, 0.5, 0.0))
    acc, lo, hi = mean_ci(right, n_boot=1000, seed=0)
    summary["held_out"] = {"value": acc, "lo": lo, "hi": hi, "n": len(val_pairs)}
    summary["auc"] = cal.pairwise_auc(-rc, -rr)  # harm = -reward
    split = cal.refusal_split(
        val_pairs, right, np.ones(len(val_pairs), dtype=bool), RefusalLexiconJudge()
    )
    for group in ("rejected_refuses", "chosen_refuses", "neither_refuses", "both_refuse"):
        summary[group] = split[group]
    helpful, refusal = scores(benign_base, len(items))
    wins = int((helpful > refusal).sum())
    b_lo, b_hi = wilson(wins, len(items), 0.95)
    summary["benign_prefers_helpful"] = {
        "value": wins / len(items) if items else None,
        "lo": b_lo,
        "hi": b_hi,
        "n": len(items),
    }
    if n_counter:
        cc, cr = scores(2 * len(train_pairs), n_counter)
        summary["counter_train_accuracy"] = float((cc > cr).mean())
    for metric, value in summary.items():
        emit(metric, value)
    summary["cache_seconds_per_text"] = cache_s / len(texts)
    summary["seconds_per_step"] = float(np.mean(step_s)) if step_s else None
    summary["seconds_total"] = time.perf_counter() - started
    emit("total_time", summary["seconds_total"])
    print(json.dumps({"bench": "pm_lora", "metric": "summary", "value": summary}, indent=1))


if __name__ == "__main__":
    main()
