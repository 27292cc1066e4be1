"""PAIR: the attacker refines one prompt at a time from the target's reply and the judge.

After Chao et al. (2023), "Jailbreaking Black Box Large Language Models in Twenty
Queries": the attacker LM is told the goal and proposes a prompt; the target replies;
the judge scores the reply; the attacker sees its last prompt, the reply and the
verdict and writes a better prompt, for up to ``depth`` steps, in ``width`` independent
streams (the paper's N parallel streams of K iterations). The search stops as soon as a
reply reaches the goal (the judge's harm at the threshold, or, for a refusal-only judge,
an answer without refusal) or the query budget is spent.

Every query is its own stored conversation: node ``"<stream>.<step>"``, its parent the
stream's previous step, its score the judge's. The first query is the attack's root (the
job's key), and carries the attack's outcome (queries spent, reached, best node).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from redline.attack.results import ConversationResult
from redline.attack.strategies.base import Kit, Lineage, Options, Plan
from redline.attack.strategies.judging import describe, success_threshold
from redline.attack.strategies.search import (
    Search,
    annotate,
    ask_attacker,
    ask_once,
    attacker_failure,
    first_reply,
    load_prompts,
    summarise,
)
from redline.errors import BackendError
from redline.targets.base import Message

if TYPE_CHECKING:
    from redline.store import Store

#: How many earlier steps of its stream the attacker sees (a small model's context is
#: short, and the paper's attacker mostly uses the last one).
MEMORY = 2
MAX_REPLY_CHARS = 400


@dataclass(frozen=True)
class Step:
    """One step of a stream, as the attacker is shown it."""

    prompt: str
    reply: str
    verdict: str


def refine_messages(goal: str, steps: list[Step], prompts: dict[str, Any]) -> list[Message]:
    """The attacker's instructions, its first request, then its last ``MEMORY`` prompts,
    each answered with the reply and the verdict (TAP refines with the same)."""
    messages = [
        Message("system", prompts["system"].format(goal=goal), pinned=True),
        Message("human", prompts["first"].format(goal=goal)),
    ]
    for step in steps[-MEMORY:]:
        messages.append(Message("assistant", f"PROMPT: {step.prompt}"))
        feedback = prompts["feedback"].format(
            prompt=step.prompt,
            reply=step.reply[:MAX_REPLY_CHARS],
            verdict=step.verdict,
            goal=goal,
        )
        messages.append(Message("human", feedback))
    return messages


@dataclass(frozen=True)
class Pair(Search):
    """``width`` streams of up to ``depth`` refinements, at most ``queries`` queries."""

    name: ClassVar[str] = "pair"
    description: ClassVar[str] = (
        "PAIR: the attacker refines a prompt from the target's reply and the judge's score"
    )
    needs_judge: ClassVar[bool] = True

    @classmethod
    def setup(cls, options: Options, store: Store) -> Pair:
        return cls(**Search.settings(options, depth=3, width=2))

    def run(self, plan: Plan, kit: Kit) -> Iterator[ConversationResult]:
        prompts = load_prompts("pair")
        judge = self.judge_of(kit)
        threshold = success_threshold(judge, self.threshold)
        streams: list[list[Step]] = [[] for _ in range(self.width)]
        results: list[ConversationResult] = []
        for step in range(self.depth):
            for s, stream in enumerate(streams):
                if len(results) >= self.queries:
                    break
                node, seed = f"{s}.{step}", (plan.seed + 7919 * s + 104729 * step) % 2**31
                fallback = stream[-1].prompt if stream else plan.goal
                try:
                    prompt, wrote = ask_attacker(
                        kit, refine_messages(plan.goal, stream, prompts), seed, fallback
                    )
                except BackendError as exc:
                    yield attacker_failure(kit, self.name, exc, node)
                    return
                lineage = Lineage(node, f"{s}.{step - 1}" if step else None)
                result = kit.converse(
                    ask_once(prompt),
                    turns=1,
                    seed=seed,
                    strategy=self.name,
                    lineage=lineage,
                    root=not results,
                    task_description=None if results else plan.goal,
                )
                if result.error:
                    yield result  # the attack is retried whole by the next run
                    return
                reply = first_reply(result)
                assessment = self.assess(kit, [Message("human", prompt)], reply)
                annotate(result, kit, assessment, plan.goal, attacker_wrote=wrote)
                results.append(result)
                verdict = describe(assessment, judge, threshold, prompts["verdicts"])
                stream.append(Step(prompt, reply, verdict))
                if assessment.reached:
                    yield from summarise(results)
                    return
        yield from summarise(results)
