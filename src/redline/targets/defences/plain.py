"""The ``plain`` defence: a short system line and a 1-shot, 3-turn example conversation, so the
model sees the dialogue format and nothing about values (the paper's plain LM)."""

from __future__ import annotations

from redline.targets.defences.prompted import PromptedDefence
from redline.vocabulary import PLAIN_LM


class PlainDefence(PromptedDefence):
    """``plain``: the ``plain`` prompt in front of the conversation."""

    name = "plain"
    pattern = "plain"
    usage = "plain"
    model_type = PLAIN_LM
    prompt = "plain"
