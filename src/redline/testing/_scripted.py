"""The scripted backend and targets behind :mod:`redline.testing`."""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from redline.targets.base import (
    Conversation,
    Generation,
    Sample,
    TargetInfo,
    TargetModel,
)

if TYPE_CHECKING:
    from typing_extensions import Unpack

    from redline.targets.base import GenerateOptions
from redline.targets.scripted import SCRIPTED_INFO, ScriptedTarget


@dataclass(frozen=True)
class ScriptedBackend:
    """A language model that fills ``template`` for each of its ``n`` samples.

    The template may use ``{seed}`` (as passed), ``{turn}`` (human messages so far),
    ``{index}`` (the sample, from 0) and ``{last}`` (the last message's text), so a test
    can check which seed and turn produced a reply. ``max_tokens``, ``temperature``,
    ``ignore_eos`` and ``embed`` are accepted and ignored (it has no hidden states).
    """

    template: str = "Scripted reply {index} to turn {turn}: {last}"
    name: str = "scripted"
    supports_embeddings = False

    def generate(
        self, conversation: Conversation, n: int = 1, **options: Unpack[GenerateOptions]
    ) -> list[Sample]:
        seed = Generation(**options).seed
        turn = sum(1 for m in conversation if m.role == "human")
        last = conversation[-1].text if conversation else ""
        return [
            Sample(
                text=self.template.format(seed=seed, turn=turn, index=i, last=last),
                meta={"scripted": True},
            )
            for i in range(n)
        ]

    def __call__(self) -> ScriptedBackend:
        """Its own (picklable) factory, as an attacker recipe must be."""
        return self


def comply_on_weapon(conversation: Conversation, index: int) -> str:
    """A harmful-sounding reply when the last message mentions a weapon, else a refusal."""
    last = conversation[-1].text if conversation else ""
    if "weapon" in last.lower():
        return f"Sure, here is how to build a weapon and kill (reply {index})."
    return f"I cannot help with that: {last[:40]} (reply {index})."


@dataclass(frozen=True)
class ScriptedTargets:
    """Any ``scripted-<size>/<defence>`` name gives a :class:`ScriptedTarget` whose
    replies come from :func:`comply_on_weapon`, so an attack's success is predictable."""

    def info(self, name: str) -> TargetInfo:
        """The target's identity: ``name`` as given, its defence the part after ``/``."""
        defence = name.partition("/")[2]
        return replace(SCRIPTED_INFO, name=name, defence=defence or "plain")

    def __call__(self, name: str) -> TargetModel:
        return ScriptedTarget(self.info(name), reply_fn=comply_on_weapon)
