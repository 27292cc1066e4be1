"""A deterministic target for flow tests: replies come from a script, instantly.

Used where a test isolates the flow (web platform, chat, load benchmark), never to
stand in for a real model in a test of model behaviour.
"""

from __future__ import annotations

from collections.abc import Callable

from redline.errors import BackendError
from redline.targets.base import Conversation, Sample, TargetInfo
from redline.vocabulary import PLAIN_LM

SCRIPTED_INFO = TargetInfo(
    name="scripted-0m/plain",
    family="scripted",
    size_label="0M",
    num_params=0,
    model_type=PLAIN_LM,
    defence="plain",
)


class ScriptedTarget:
    """Replies ``"<prefix> turn T candidate C: <last human text>"``; can be told to fail."""

    def __init__(
        self,
        info: TargetInfo = SCRIPTED_INFO,
        *,
        reply_fn: Callable[[Conversation, int], str] | None = None,
        fail_times: int = 0,
    ) -> None:
        self.info = info
        self._reply_fn = reply_fn
        self.fail_times = fail_times
        self.calls = 0

    def reply(
        self, conversation: Conversation, n: int = 2, seed: int | None = None
    ) -> list[Sample]:
        self.calls += 1
        if self.fail_times > 0:
            self.fail_times -= 1
            raise BackendError("scripted failure (the test asked for one)")
        turn = sum(1 for m in conversation if m.role == "human")
        last = conversation[-1].text if conversation else ""
        return [
            Sample(
                text=self._reply_fn(conversation, i)
                if self._reply_fn
                else f"Scripted reply {i + 1} to turn {turn}: {last}",
                meta={"scripted": True},
            )
            for i in range(n)
        ]
