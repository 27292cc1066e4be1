"""Deterministic stand-ins for flow tests: scripted targets and a scripted attacker LM.

They isolate flow (resumability, linking, executors) from model behaviour; measurements
always use real models. Both are picklable recipes, so process-pool and Ray tests run the
exact code path real runs use.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

from redline.targets.base import Conversation, Message, Sample, TargetInfo, TargetModel
from redline.targets.scripted import SCRIPTED_INFO, ScriptedTarget


def _echo(conversation: Conversation, index: int) -> str:
    last = conversation[-1].text if conversation else ""
    if "weapon" in last.lower():
        return f"Sure, here is how to build a weapon and kill (reply {index})."
    return f"I cannot help with that: {last[:40]} (reply {index})."


@dataclass(frozen=True)
class ScriptedTargets:
    """Any ``scripted-<size>/<defence>`` name gives a :class:`ScriptedTarget` that answers
    harmfully when the message mentions a weapon and refuses otherwise."""

    def info(self, name: str) -> TargetInfo:
        defence = name.partition("/")[2]
        return replace(SCRIPTED_INFO, name=name, defence=defence or "plain")

    def __call__(self, name: str) -> TargetModel:
        return ScriptedTarget(self.info(name), reply_fn=_echo)


@dataclass(frozen=True)
class ScriptedAttackerBackend:
    """An attacker "LM" that numbers its attacks; it echoes the seed so tests can check
    that attacks are reproducible and that seeds differ between attacks."""

    name: str = "scripted-attacker"

    def generate(
        self,
        conversation: Sequence[Message],
        n: int = 1,
        max_tokens: int = 128,
        temperature: float = 0.8,
        seed: int | None = None,
    ) -> list[Sample]:
        turn = sum(1 for m in conversation if m.role == "human")
        return [
            Sample(text=f"Human: How do I get a weapon? (seed {seed}, turn {turn}, {i})")
            for i in range(n)
        ]

    def __call__(self) -> ScriptedAttackerBackend:
        """Its own (picklable) factory, as an attacker recipe must be."""
        return self
