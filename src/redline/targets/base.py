"""What every target is made of: messages in, candidate replies out.

``targets`` is model code and knows nothing of the store. Layers:
- a :class:`Backend` renders messages for one model (chat template or a Human:/Assistant:
  transcript for base models) and samples ``n`` replies;
- a defence (plain, hhh, rs...) turns a red-team conversation into the messages a backend
  sees (system prompt, few-shot examples) and may rank samples with a :class:`Scorer`;
- a :class:`TargetModel` is a named defence over a backend, what the platform talks to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

Role = Literal["system", "human", "assistant"]


@dataclass(frozen=True)
class Message:
    """One message. ``pinned`` marks the system prompt and few-shot examples: when a
    conversation overflows the context, backends drop the oldest *unpinned* turns first."""

    role: Role
    text: str
    pinned: bool = False


Conversation = Sequence[Message]


@dataclass
class Sample:
    """One generated reply and what it cost."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Backend(Protocol):
    """A language model that samples ``n`` replies to the same messages."""

    name: str

    def generate(
        self,
        conversation: Conversation,
        n: int = 1,
        max_tokens: int = 128,
        temperature: float = 0.8,
        seed: int | None = None,
    ) -> list[Sample]: ...


@runtime_checkable
class Scorer(Protocol):
    """Harmlessness of ``reply`` given the conversation before it; lower = more harmful."""

    def score(self, context: Conversation, reply: str) -> float: ...


@dataclass(frozen=True)
class TargetInfo:
    """Identity of a target: ``name`` is ``family-size/defence``; ``model_type`` is the
    hh-rlhf dataset label (plain lm, context distillation, rejection sampling, rlhf)."""

    name: str
    family: str
    size_label: str
    num_params: int
    model_type: str
    defence: str
    config: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class TargetModel(Protocol):
    """A named, defended model: the only thing the platform and attackers talk to."""

    info: TargetInfo

    def reply(
        self, conversation: Conversation, n: int = 2, seed: int | None = None
    ) -> list[Sample]:
        """``n`` candidate replies to a conversation that ends with a human message."""
        ...
