"""The ``rlhf`` defence: a model already fine-tuned against the PM (a LoRA adapter or a served
model), shown the plain prompt only, so measured differences come from training."""

from __future__ import annotations

from redline.targets.defences.prompted import PromptedDefence
from redline.vocabulary import RLHF


class RLHFDefence(PromptedDefence):
    """``rlhf``: the ``plain`` prompt in front of the conversation."""

    name = "rlhf"
    pattern = "rlhf"
    usage = "rlhf"
    model_type = RLHF
    prompt = "plain"
