"""The policy to fine-tune: the catalogue's GGUF model, dequantised into PyTorch.

Why from the GGUF: it is the only copy of the weights on the machine (no model hub), and
training the very model the llama.cpp target serves means the exported adapter lands on
the weights it was trained against (up to Q4 rounding, which the export check measures).
Prompts are rendered by the llama.cpp backend's own chat template with the plain
defence's prompt in front, so the policy is trained on exactly what the ``/rlhf`` target
will show it at serving time.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from redline.config import Settings
from redline.errors import ConfigError
from redline.targets.base import Message
from redline.targets.catalogue import resolve_model
from redline.targets.defences import load_prompt


@dataclass
class Policy:
    """A PyTorch causal LM, its tokenizer, and the facts the GGUF export needs."""

    model: Any
    tokenizer: Any
    model_name: str
    gguf_path: str
    n_head: int
    n_head_kv: int


def load_policy(model_name: str, settings: Settings) -> Policy:
    """Load a catalogue model (or GGUF path) with transformers' GGUF reader (float32)."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    resolved = resolve_model(model_name, settings)
    if resolved.spec is not None and not resolved.spec.chat:
        raise ConfigError(f"{model_name}: RLHF here needs a chat model (it has a chat template)")
    folder, name = str(resolved.path.parent), resolved.path.name
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=name)
    model = AutoModelForCausalLM.from_pretrained(folder, gguf_file=name, dtype=torch.float32)
    if model.config.model_type != "llama":
        raise ConfigError(
            f"{model_name}: LoRA export supports llama-architecture GGUF models, got "
            f"{model.config.model_type!r}"
        )
    # The weights were dequantised to float32 on load, but transformers still tags the
    # model as "GGUF-quantised" and its Trainer refuses to train such a model.
    setattr(model, "hf_quantizer", None)  # noqa: B010 - typed as a Module attribute
    setattr(model, "is_quantized", False)  # noqa: B010
    if hasattr(model.config, "quantization_config"):
        del model.config.quantization_config
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    return Policy(
        model=model,
        tokenizer=tokenizer,
        model_name=str(model_name),
        gguf_path=str(resolved.path),
        n_head=int(model.config.num_attention_heads),
        n_head_kv=int(model.config.num_key_value_heads),
    )


def target_messages(attack: str) -> list[Message]:
    """What the ``/rlhf`` target sends the backend for a one-turn attack: the plain
    defence's pinned prompt, then the attack."""
    return [*load_prompt("plain").messages(), Message("human", attack)]


def render_prompts(attacks: Sequence[str], backend: Any) -> list[str]:
    """Prompt strings exactly as the llama.cpp backend renders them for the target."""
    return [backend.render_prompt(target_messages(a)) for a in attacks]
