"""Targets: language models behind defences, named ``family-size/defence``.

Model code only (text in, candidate replies out); it knows nothing of the store. Most
callers need two functions: :func:`available_targets` and :func:`build_target`.
Backends live in ``redline.targets.backends`` and are imported where used, because they
pull in llama.cpp or HTTP clients; their plugins (``backends.registry.BACKENDS``) and the
defences (:data:`DEFENCES`) are registries another package can add to.
"""

from redline.targets.base import (
    Backend,
    Conversation,
    Message,
    Sample,
    Scorer,
    TargetInfo,
    TargetModel,
    TextScorer,
)
from redline.targets.defences import (
    DEFENCES,
    PromptedTarget,
    RejectionSamplingTarget,
    load_prompt,
    parse_defence,
)
from redline.targets.registry import available_targets, build_target

__all__ = [
    "DEFENCES",
    "Backend",
    "Conversation",
    "Message",
    "PromptedTarget",
    "RejectionSamplingTarget",
    "Sample",
    "Scorer",
    "TargetInfo",
    "TargetModel",
    "TextScorer",
    "available_targets",
    "build_target",
    "load_prompt",
    "parse_defence",
]
