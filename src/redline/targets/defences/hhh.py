"""The ``hhh`` defence: 14 helpful, honest, harmless example conversations (the paper's
prompted LM, published as "context distillation")."""

from __future__ import annotations

from redline.targets.defences.prompted import PromptedDefence
from redline.vocabulary import PROMPTED_LM


class HHHDefence(PromptedDefence):
    """``hhh``: the ``hhh`` prompt in front of the conversation."""

    name = "hhh"
    pattern = "hhh"
    usage = "hhh"
    model_type = PROMPTED_LM
    prompt = "hhh"
