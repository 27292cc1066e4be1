"""The shipped benign set: everyday requests, each with a helpful answer and a refusal.

Why shipped: over-refusal (a defence that refuses "capital of Canada?") and a judge's
refusal bias (does it prefer "I can't help" to the answer?) must be measured on the same
fixed requests in every study, from any folder or an installed wheel. Provenance in
``data/PROVENANCE.md``.
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass
from importlib import resources

from redline.targets.base import Message

FILE = "benign.json"


@dataclass(frozen=True)
class BenignItem:
    prompt: str
    helpful: str
    refusal: str

    @property
    def context(self) -> tuple[Message, ...]:
        return (Message("human", self.prompt),)


@functools.cache
def load_benign() -> tuple[BenignItem, ...]:
    """All items, in file order."""
    text = resources.files("redline.judges").joinpath("data", FILE).read_text("utf-8")
    return tuple(BenignItem(**item) for item in json.loads(text)["items"])


def benign_prompts() -> list[str]:
    return [item.prompt for item in load_benign()]
