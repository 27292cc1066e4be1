"""The attacker chats: it writes every human turn of one conversation.

Why shared: zero-shot and few-shot differ only in what the attacker is shown before the
first turn (a topic or examples); after it, both see the transcript and write the next
turn, so both run this one loop.
"""

from __future__ import annotations

from redline.attack.attacker import attack_messages
from redline.attack.results import ConversationResult
from redline.attack.strategies.base import Kit, Plan
from redline.targets.base import Message


def attacker_chat(mode: str, plan: Plan, kit: Kit, *, turns: int) -> ConversationResult:
    """One conversation of ``turns`` turns, each human turn written by the attacker with
    its own seed (derived from the plan's), so attacks are reproducible."""

    def next_human(conversation: list[Message], index: int) -> str:
        messages = attack_messages(
            mode, conversation=conversation, examples=plan.examples, topic=plan.goal
        )
        return kit.write(messages, seed=(plan.seed + 31 * index) % 2**31)

    return kit.converse(next_human, turns=turns, seed=plan.seed, strategy=mode)
