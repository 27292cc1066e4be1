"""RLHF target: on-policy RL of a LoRA against the harmlessness PM, exported to GGUF.

Public surface (torch, TRL and PEFT are imported only inside the functions that train,
so ``redline`` itself never needs the ``train`` extra):
- :func:`train_rlhf` / :class:`RLHFConfig` - train, export and check an adapter;
- :func:`split_attacks`, :func:`benign_prompts` - the training prompts (attacks with a fixed
  held-out split, benign requests whose refusal is penalised);
- :func:`eval_attacks` - harmful requests no PM or policy trained on, for evaluation;
- :func:`export_gguf_lora`, :func:`read_gguf_lora` - the adapter file format;
- :func:`packaged_adapter` - the shipped adapter for a base model, if any.
"""

from __future__ import annotations

from pathlib import Path

from redline.rlhf.gguf_lora import export_gguf_lora, read_gguf_lora
from redline.rlhf.prompts import benign_prompts, eval_attacks, is_held_out, split_attacks
from redline.rlhf.train import (
    PACKAGED_ADAPTERS,
    RLHFConfig,
    RLHFResult,
    adapter_filename,
    train_rlhf,
)


def packaged_adapter(base: str) -> Path | None:
    """The GGUF LoRA shipped for ``base`` (``targets/adapters/<base>-rlhf.gguf``), or None."""
    path = PACKAGED_ADAPTERS / adapter_filename(base)
    return path if path.is_file() else None


__all__ = [
    "PACKAGED_ADAPTERS",
    "RLHFConfig",
    "RLHFResult",
    "benign_prompts",
    "eval_attacks",
    "export_gguf_lora",
    "is_held_out",
    "packaged_adapter",
    "read_gguf_lora",
    "split_attacks",
    "train_rlhf",
]
