"""Prompted targets: a few-shot prompt in front of the red-team conversation.

Why shared: the plain, hhh and rlhf defences differ only in the prompt they show (the
rlhf model was itself trained against the PM, so it gets the plain format example and
measured differences come from training), so they are one target class and one defence
base, each defence naming its prompt.
"""

from __future__ import annotations

from typing import ClassVar

from redline.targets.base import Backend, Conversation, Message, Sample, TargetInfo
from redline.targets.defences.base import Defence, DefenceSpec, TargetParts
from redline.targets.defences.prompts import FewShotPrompt, load_prompt


def check_conversation(conversation: Conversation) -> None:
    """A red-team conversation holds only human/assistant turns and ends with the human;
    anything else is a caller bug (system prompts belong to the defence)."""
    if not conversation:
        raise ValueError("the conversation is empty; it must end with a human message")
    for message in conversation:
        if message.role not in ("human", "assistant"):
            raise ValueError(
                f"red-team conversations hold human and assistant messages only, got "
                f"{message.role!r}; the defence adds the system prompt"
            )
    if conversation[-1].role != "human":
        raise ValueError("the conversation must end with a human message")


class PromptedTarget:
    """A few-shot prompt in front of the conversation, ``n`` samples."""

    def __init__(
        self,
        info: TargetInfo,
        backend: Backend,
        prompt: FewShotPrompt,
        *,
        max_tokens: int = 128,
        temperature: float = 0.8,
    ) -> None:
        self.info = info
        self.backend = backend
        self.prompt = prompt
        self.max_tokens = max_tokens
        self.temperature = temperature
        self._prefix = prompt.messages()

    def messages(self, conversation: Conversation) -> list[Message]:
        """Exactly what the backend sees: pinned few-shot prompt, then the conversation."""
        check_conversation(conversation)
        return [*self._prefix, *conversation]

    def reply(
        self, conversation: Conversation, n: int = 2, seed: int | None = None
    ) -> list[Sample]:
        samples = self.backend.generate(
            self.messages(conversation),
            n=n,
            max_tokens=self.max_tokens,
            temperature=self.temperature,
            seed=seed,
        )
        for sample in samples:
            sample.meta.setdefault("defence", self.info.defence)
        return samples


class PromptedDefence(Defence):
    """A defence that is a packaged prompt (``prompt`` names ``targets/prompts/<name>.json``)
    in front of the conversation."""

    prompt: ClassVar[str]

    @classmethod
    def build(cls, spec: DefenceSpec, parts: TargetParts) -> PromptedTarget:
        return PromptedTarget(
            parts.info,
            parts.backend,
            load_prompt(cls.prompt),
            max_tokens=parts.max_tokens,
            temperature=parts.temperature,
        )
