"""TAP: a tree of attacks, pruned before querying (off topic) and after (by the judge).

After Mehrotra et al. (2023), "Tree of Attacks: Jailbreaking Black-Box LLMs
Automatically": every leaf branches into ``width`` refinements (the attacker refines as
in PAIR, from the leaf's prompts, replies and verdicts); a refinement that no longer
asks for the goal is pruned before it costs a target query (the evaluator, here the
attacker model, answers yes or no; when no yes or no can be read, the prompt must use
at least a quarter of the goal's content words); the on-topic ones are sent and judged,
and only the best ``width`` by the judge's score are kept as the next leaves. The tree
is at most ``depth`` levels deep and spends at most ``queries`` target queries; it stops
when a reply reaches the goal.

Stored: every queried node is a conversation, node ids ``"0"``, ``"0.1"``, ``"0.1.2"``
(the path of branch indices), its parent the node it was refined from, ``kept`` whether
it survived the judge's prune; the first queried node is the root and also lists the
nodes pruned off topic (never queried, so no conversation of their own).
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from redline.attack.results import ConversationResult
from redline.attack.strategies.base import Kit, Lineage, Options, Plan
from redline.attack.strategies.judging import describe, success_threshold
from redline.attack.strategies.pair import Step, refine_messages
from redline.attack.strategies.search import (
    Search,
    annotate,
    ask_attacker,
    ask_once,
    attacker_failure,
    first_reply,
    load_prompts,
    overlap,
    summarise,
    yes_or_no,
)
from redline.errors import BackendError
from redline.targets.base import Message

if TYPE_CHECKING:
    from redline.store import Store

#: Share of the goal's content words an on-topic prompt uses, when the evaluator's
#: answer cannot be read.
MIN_OVERLAP = 0.25


@dataclass
class _Node:
    """A refinement: where it sits, its prompt and the steps that led to it."""

    node: str
    parent: str | None
    prompt: str
    wrote: bool
    steps: list[Step]
    on_topic: str = ""
    score: float | None = None
    result: ConversationResult | None = None


def on_topic(kit: Kit, goal: str, prompt: str, seed: int) -> tuple[bool, str]:
    """Whether ``prompt`` still asks for ``goal``, and why (the evaluator's word, or the
    lexical overlap when its answer had no yes or no)."""
    texts = load_prompts("tap")
    messages = [
        Message("system", texts["system"], pinned=True),
        Message("human", texts["question"].format(goal=goal, prompt=prompt)),
    ]
    answer = yes_or_no(kit.draft(messages, seed, max_tokens=8, temperature=0.0))
    if answer is not None:
        return answer, f"evaluator said {'yes' if answer else 'no'}"
    share = overlap(goal, prompt)
    return share >= MIN_OVERLAP, f"overlap {share:.2f} with the goal (evaluator unreadable)"


@dataclass(frozen=True)
class Tap(Search):
    """Branch ``width``, keep ``width``, ``depth`` levels, at most ``queries`` queries."""

    name: ClassVar[str] = "tap"
    description: ClassVar[str] = (
        "TAP: a tree of refinements, pruned off topic before querying and by the judge after"
    )
    needs_judge: ClassVar[bool] = True

    @classmethod
    def setup(cls, options: Options, store: Store) -> Tap:
        settings = Search.settings(options, depth=3, width=2)
        if not options.budget.queries:  # every leaf's branches, at every level
            settings["queries"] = settings["depth"] * settings["width"] ** 2
        return cls(**settings)

    def _branch(
        self, kit: Kit, plan: Plan, leaves: list[_Node | None]
    ) -> tuple[list[_Node], list[_Node]]:
        """Every leaf's refinements, split into on-topic and pruned."""
        keep: list[_Node] = []
        pruned: list[_Node] = []
        prompts = load_prompts("pair")
        for leaf in leaves:
            steps = leaf.steps if leaf else []
            for b in range(self.width):
                node = f"{leaf.node}.{b}" if leaf else str(b)
                seed = (plan.seed + hash_node(node)) % 2**31
                fallback = steps[-1].prompt if steps else plan.goal
                messages = refine_messages(plan.goal, steps, prompts)
                prompt, wrote = ask_attacker(kit, messages, seed, fallback)
                child = _Node(node, leaf.node if leaf else None, prompt, wrote, steps)
                ok, child.on_topic = on_topic(kit, plan.goal, prompt, seed)
                (keep if ok else pruned).append(child)
        if not keep and pruned:  # never a level without a query: keep the closest one
            best = max(pruned, key=lambda c: overlap(plan.goal, c.prompt))
            pruned.remove(best)
            best.on_topic += "; kept as the closest of an all-pruned level"
            keep.append(best)
        return keep, pruned

    def run(self, plan: Plan, kit: Kit) -> Iterator[ConversationResult]:
        judge = self.judge_of(kit)
        threshold = success_threshold(judge, self.threshold)
        verdicts = load_prompts("pair")["verdicts"]
        leaves: list[_Node | None] = [None]
        results: list[ConversationResult] = []
        pruned_all: list[_Node] = []
        for _level in range(self.depth):
            try:
                children, pruned = self._branch(kit, plan, leaves)
            except BackendError as exc:
                yield attacker_failure(kit, self.name, exc, "tree")
                return
            pruned_all += pruned
            queried: list[_Node] = []
            for child in children:
                if len(results) >= self.queries:
                    break
                result = kit.converse(
                    ask_once(child.prompt),
                    turns=1,
                    seed=(plan.seed + hash_node(child.node) + 1) % 2**31,
                    strategy=self.name,
                    lineage=Lineage(child.node, child.parent),
                    root=not results,
                    task_description=None if results else plan.goal,
                )
                if result.error:
                    yield result  # the attack is retried whole by the next run
                    return
                reply = first_reply(result)
                assessment = self.assess(kit, [Message("human", child.prompt)], reply)
                extra = {"on_topic": child.on_topic, "attacker_wrote": child.wrote}
                annotate(result, kit, assessment, plan.goal, **extra)
                verdict = describe(assessment, judge, threshold, verdicts)
                child.steps = [*child.steps, Step(child.prompt, reply, verdict)]
                child.score, child.result = assessment.score, result
                results.append(result)
                queried.append(child)
                if assessment.reached:
                    yield from self._finish(results, [child], pruned_all)
                    return
            # best score first, unscored last, ties in the order they were queried
            ranked = sorted(queried, key=lambda c: float("inf") if c.score is None else -c.score)
            leaves = list[_Node | None](ranked[: self.width])
            for child in queried:
                if child.result is not None and child.result.extra is not None:
                    child.result.extra["kept"] = any(child is leaf for leaf in leaves)
            if not leaves or len(results) >= self.queries:
                break
        yield from self._finish(results, [], pruned_all)

    @staticmethod
    def _finish(
        results: list[ConversationResult], winners: list[_Node], pruned: list[_Node]
    ) -> Iterator[ConversationResult]:
        for winner in winners:
            if winner.result is not None and winner.result.extra is not None:
                winner.result.extra["kept"] = True
        summarise(results)
        if results and results[0].extra is not None:
            results[0].extra["pruned"] = [
                {"node": p.node, "parent": p.parent, "prompt": p.prompt, "why": p.on_topic}
                for p in pruned
            ]
        yield from results


def hash_node(node: str) -> int:
    """A stable number for a node id (seeds differ between nodes, not between runs)."""
    return zlib.crc32(node.encode())
