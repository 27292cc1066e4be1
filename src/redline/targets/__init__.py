"""Targets: language models behind defences, named ``family-size/defence``.

Model code only (text in, candidate replies out); it knows nothing of the store. Most
callers need two functions: :func:`available_targets` and :func:`build_target`.
Backends live in ``redline.targets.backends`` and are imported where used, because they
pull in llama.cpp or HTTP clients.
"""

from redline.targets.base import (
    Backend,
    Conversation,
    Message,
    Sample,
    Scorer,
    TargetInfo,
    TargetModel,
)
from redline.targets.defences import (
    MODEL_TYPES,
    PromptedTarget,
    RejectionSamplingTarget,
    load_prompt,
    parse_defence,
)
from redline.targets.registry import available_targets, build_target

__all__ = [
    "MODEL_TYPES",
    "Backend",
    "Conversation",
    "Message",
    "PromptedTarget",
    "RejectionSamplingTarget",
    "Sample",
    "Scorer",
    "TargetInfo",
    "TargetModel",
    "available_targets",
    "build_target",
    "load_prompt",
    "parse_defence",
]
