"""Few-shot prompts: data files in ``targets/prompts/``, sent as pinned messages.

Why pinned: a backend that must shorten an overflowing conversation drops red-team turns,
never the prompt. Chat models see the prompt through their chat template, base models as
a Human:/Assistant: transcript; that rendering is the backend's job, not the defence's.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from redline.errors import ConfigError
from redline.targets.base import Message


@dataclass(frozen=True)
class FewShotPrompt:
    """A system line and example conversations, loaded from ``prompts/<name>.json``."""

    name: str
    system: str
    conversations: tuple[tuple[Message, ...], ...]

    def messages(self) -> list[Message]:
        """The pinned messages a backend sees before the red-team conversation."""
        pinned = [Message("system", self.system, pinned=True)] if self.system else []
        for conversation in self.conversations:
            pinned.extend(Message(m.role, m.text, pinned=True) for m in conversation)
        return pinned


def _parse_turns(raw: Any, where: str) -> tuple[Message, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}: expected a non-empty list of messages")
    turns = []
    for i, item in enumerate(raw):
        role, text = (
            (item.get("role"), item.get("text")) if isinstance(item, dict) else (None, None)
        )
        expected = "human" if i % 2 == 0 else "assistant"
        if role != expected or not isinstance(text, str) or not text.strip():
            raise ConfigError(
                f"{where}, message {i}: expected role {expected!r} with non-empty text"
            )
        turns.append(Message(role, text))
    if turns[-1].role != "assistant":
        raise ConfigError(f"{where}: an example conversation must end with the assistant")
    return tuple(turns)


@cache
def load_prompt(name: str) -> FewShotPrompt:
    """Load a packaged prompt (``plain`` or ``hhh``); validated once, then cached."""
    resource = resources.files("redline.targets") / "prompts" / f"{name}.json"
    where = f"redline/targets/prompts/{name}.json"
    try:
        data = json.loads(resource.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{where} is missing; reinstall redline") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: not valid JSON ({exc})") from exc
    if "conversations" in data:
        raw = data["conversations"]
        convs = tuple(_parse_turns(c, f"{where}, conversation {i}") for i, c in enumerate(raw))
    else:
        convs = (_parse_turns(data.get("conversation"), where),)
    return FewShotPrompt(name=name, system=str(data.get("system", "")), conversations=convs)
