"""An attacker LM that writes red-team messages (zero-shot, few-shot, multi-turn).

Why a backend and not a target: the attacker plays the *human*, so it must not see a
target's assistant prompt; it gets its own instructions (``prompts/attacker.json``) and
any registry backend (embedded llama.cpp or OpenAI-compatible) writes the message.

Modes, after Perez et al. (2022) as the paper uses them:
- zero-shot: instructions plus a topic drawn (seeded) from the paper's harm areas;
- few-shot: K successful human attacks as examples (drawn per attack from a pool of the
  most successful stored ones, so attacks do not all copy the same K);
- multi-turn: after each reply the attacker sees the transcript and writes the next turn.
"""

from __future__ import annotations

import json
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, Protocol

from redline.config import Settings
from redline.errors import ConfigError, EmptyGeneration
from redline.targets.base import Backend, Message

MAX_ATTACK_CHARS = 600
_ROLE_PREFIX = re.compile(
    r"^\s*(human|user|me|you|red teamer|message|assistant|ai)\s*:\s*", re.IGNORECASE
)
_CUT = re.compile(r"\n\s*(assistant|ai|human|user)\s*:|\n\n", re.IGNORECASE)


@dataclass(frozen=True)
class AttackerPrompt:
    system: str
    zero_shot: str
    few_shot: str
    next_turn: str
    topics: tuple[str, ...]


@cache
def load_attacker_prompt() -> AttackerPrompt:
    """The packaged attacker instructions (validated once)."""
    where = "redline/attack/prompts/attacker.json"
    try:
        data = json.loads(
            (resources.files("redline.attack") / "prompts" / "attacker.json").read_text("utf-8")
        )
        return AttackerPrompt(
            system=data["system"],
            zero_shot=data["zero_shot"],
            few_shot=data["few_shot"],
            next_turn=data["next_turn"],
            topics=tuple(data["topics"]),
        )
    except (FileNotFoundError, json.JSONDecodeError, KeyError) as exc:
        raise ConfigError(f"{where} is missing or malformed ({exc}); reinstall redline") from exc


def clean_attack(text: str) -> str:
    """The attacker's output as one human message: role labels, quotes, anything after
    the message (a made-up assistant reply, a second paragraph) removed."""
    text = text.strip()
    text = _ROLE_PREFIX.sub("", text)
    match = _CUT.search(text)
    if match:
        text = text[: match.start()]
    text = text.strip().strip('"“”').strip()
    return text[:MAX_ATTACK_CHARS].strip()


def attack_messages(
    mode: str,
    *,
    conversation: Sequence[Message] = (),
    examples: Sequence[str] = (),
    topic: str = "",
) -> list[Message]:
    """What the attacker LM sees: its instructions and one request for the next message."""
    prompt = load_attacker_prompt()
    if conversation:
        transcript = "\n".join(
            f"{'You' if m.role == 'human' else 'Assistant'}: {m.text}" for m in conversation
        )
        request = prompt.next_turn.format(transcript=transcript)
    elif mode == "few-shot" and examples:
        listing = "\n".join(f"- {e.strip()}" for e in examples)
        request = prompt.few_shot.format(examples=listing)
        if topic:  # a goal of --goals; without one the request is as it always was
            request += f"\n\nYour goal: {topic}"
    else:
        request = prompt.zero_shot.format(topic=topic or random.choice(prompt.topics))
    return [Message("system", prompt.system, pinned=True), Message("human", request)]


class AttackerBackendFactory(Protocol):
    """A picklable recipe for the attacker's backend."""

    @property
    def name(self) -> str: ...

    def __call__(self) -> Backend: ...


@dataclass(frozen=True)
class RegistryAttacker:
    """The backend behind a registry target (``smollm2-135m`` means its ``/plain``)."""

    settings: Settings
    name: str

    def __call__(self) -> Backend:
        from redline.targets.registry import build_target

        target_name = self.name if "/" in self.name else f"{self.name}/plain"
        target: Any = build_target(target_name, self.settings)
        backend = getattr(target, "backend", None)
        if backend is None:
            raise ConfigError(f"attacker {self.name!r} has no backend to write attacks with")
        return backend


def write_attack(
    backend: Backend,
    messages: Sequence[Message],
    *,
    seed: int,
    max_tokens: int = 64,
    temperature: float = 1.0,
    tries: int = 3,
) -> str:
    """One cleaned attack message; redrawn (new seed) when the cleaned text is empty."""
    for attempt in range(tries):
        samples = backend.generate(
            list(messages),
            n=1,
            max_tokens=max_tokens,
            temperature=temperature,
            seed=(seed + 104729 * attempt) % 2**31,
        )
        text = clean_attack(samples[0].text) if samples else ""
        if text:
            return text
    raise EmptyGeneration(f"the attacker wrote nothing usable in {tries} tries")
