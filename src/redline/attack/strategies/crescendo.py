"""Crescendo: a conversation that starts harmless and escalates toward the goal, taking
back each turn the target refuses.

After Russinovich et al. (2024), "Great, Now Write an Article About That": the attacker
opens with a benign question on the goal's subject and, turn by turn, builds on the
target's own replies toward the goal. When the target refuses (the judge's refusal
measure, or the refusal lexicon when the judge does not measure refusal or could not be
read), the turn is backtracked: dropped from the conversation the target sees, and the
attacker is asked for a different, milder message. Backtracks are bounded
(``backtracks``), and so are the escalation turns (``depth``) and the target queries in
all (``queries``); the attack stops early when the judge's harm score reaches the
goal. A refusal-only judge cannot end it early (the benign openers are meant to be
answered): the conversation runs its turns, and reaches the goal when its last, most
escalated turn is answered.

Stored: the final conversation (the kept turns) is the attack's root, with the outcome;
each backtracked branch is its own conversation (the kept turns before it, then the
refused one), node ``"b<k>"``, parent ``""`` (the final conversation it branched off),
so a reviewer sees what was taken back and where. Kept turns are not queried again.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from redline.attack.attacker import clean_attack
from redline.attack.results import ConversationResult, TurnResult
from redline.attack.scoring import finite_or_none
from redline.attack.strategies.base import Kit, Lineage, Options, Plan
from redline.attack.strategies.judging import Assessment
from redline.attack.strategies.search import (
    Search,
    annotate,
    ask_once,
    attacker_failure,
    first_reply,
    load_prompts,
    summarise,
)
from redline.errors import BackendError
from redline.judges.base import Verdict
from redline.targets.base import Message

if TYPE_CHECKING:
    from redline.store import Store

MAX_TRANSCRIPT_CHARS = 1200


@dataclass
class _State:
    """The conversation so far: the kept turns, what the target saw, what was refused."""

    kept: list[TurnResult] = field(default_factory=list)
    history: list[Message] = field(default_factory=list)  # what the target saw
    written: list[Message] = field(default_factory=list)  # the same, as the attacker wrote
    conversion: dict[str, Any] = field(default_factory=dict)  # --converter records
    branches: list[ConversationResult] = field(default_factory=list)
    refused: str | None = None  # the last taken-back message, shown to the attacker
    last: Assessment | None = None
    queries: int = 0


def escalation_messages(
    goal: str, state: _State, depth: int, prompts: dict[str, Any]
) -> list[Message]:
    """The attacker's instructions and the request for message ``len(kept) + 1``."""
    messages = [Message("system", prompts["system"].format(goal=goal), pinned=True)]
    if state.written:
        transcript = "\n".join(
            f"{'You' if m.role == 'human' else 'Assistant'}: {m.text}" for m in state.written
        )[-MAX_TRANSCRIPT_CHARS:]
        turn = len(state.kept) + 1
        request = prompts["next"].format(transcript=transcript, turn=turn, turns=depth)
    else:
        request = prompts["first"].format(turns=depth)
    if state.refused:
        request += "\n\n" + prompts["backtrack"].format(refused=state.refused)
    return [*messages, Message("human", request)]


@dataclass(frozen=True)
class Crescendo(Search):
    """Up to ``depth`` kept turns, ``backtracks`` refusals taken back, ``queries`` in all."""

    name: ClassVar[str] = "crescendo"
    description: ClassVar[str] = (
        "Crescendo: benign opener, escalates turn by turn, backtracks on refusal"
    )
    needs_judge: ClassVar[bool] = True

    backtracks: int = 3

    @classmethod
    def setup(cls, options: Options, store: Store) -> Crescendo:
        settings = Search.settings(options, depth=4, width=1)
        backtracks = 3
        if not options.budget.queries:  # the default budget leaves room for the backtracks
            settings["queries"] = settings["depth"] + backtracks
        return cls(**settings, backtracks=backtracks)

    @property
    def recipe(self) -> tuple[Any, ...]:
        return (*super().recipe, self.backtracks)

    def _next_message(self, kit: Kit, plan: Plan, state: _State, seed: int) -> tuple[str, bool]:
        """The attacker's next message, or the ladder's rung for this turn when the
        attacker wrote nothing usable."""
        prompts = load_prompts("crescendo")
        raw = kit.draft(escalation_messages(plan.goal, state, self.depth, prompts), seed)
        message = clean_attack(raw)
        if message and message != state.refused:
            return message, True
        ladder = prompts["ladder"]
        rung = ladder[min(len(state.kept), len(ladder) - 1)]
        if state.refused:  # a milder rung than the one refused
            rung = ladder[max(len(state.kept) - 1, 0)]
        return rung.format(goal=plan.goal), False

    def run(self, plan: Plan, kit: Kit) -> Iterator[ConversationResult]:
        state = _State()
        while len(state.kept) < self.depth and state.queries < self.queries:
            seed = (plan.seed + 7919 * state.queries) % 2**31
            try:
                message, wrote = self._next_message(kit, plan, state, seed)
            except BackendError as exc:
                yield attacker_failure(kit, self.name, exc, f"turn {len(state.kept) + 1}")
                return
            turn = kit.converse(
                ask_once(message),
                turns=1,
                seed=seed,
                strategy=self.name,
                history=state.history,
                lineage=Lineage(f"q{state.queries}", None),
            )
            state.queries += 1
            if turn.error:
                turn.key = kit.key_for("", root=True)
                yield turn  # the attack is retried whole by the next run
                return
            reply = first_reply(turn)
            context = [*state.written, Message("human", message)]
            assessment = self.assess(kit, context, reply)
            # the last query allowed is always kept, so the final conversation has a turn
            backtrack = (
                assessment.refused
                and not assessment.reached
                and len(state.branches) < self.backtracks
                and state.queries < self.queries
            )
            if backtrack:
                state.branches.append(self._branch(kit, plan, state, turn, assessment, wrote))
                state.refused = message
                continue
            state.kept += turn.turns
            said = turn.turns[-1].human  # converted, when --converter is on
            state.history += [Message("human", said), Message("assistant", reply)]
            state.written += [Message("human", message), Message("assistant", reply)]
            _record_conversion(state.conversion, turn)
            state.refused, state.last = None, assessment
            if assessment.reached and assessment.verdict.harm is not None:
                break  # only a harm score ends it early: the openers are meant to be answered
        yield from summarise([self._final(kit, plan, state), *state.branches], state.queries)

    def _branch(
        self,
        kit: Kit,
        plan: Plan,
        state: _State,
        turn: ConversationResult,
        assessment: Assessment,
        wrote: bool,
    ) -> ConversationResult:
        """The kept turns so far and the refused one, as the backtracked node."""
        node = f"b{len(state.branches) + 1}"
        branch = kit.shell(self.name, Lineage(node, ""), root=False)
        branch.turns = [*state.kept, *turn.turns]
        branch.scored_by = turn.scored_by
        annotate(
            branch,
            kit,
            assessment,
            plan.goal,
            backtracked=True,
            turn=len(state.kept) + 1,
            attacker_wrote=wrote,
        )
        return branch

    def _final(self, kit: Kit, plan: Plan, state: _State) -> ConversationResult:
        """The conversation the target ended with: the attack's root."""
        final = kit.shell(self.name, Lineage("", None), root=True)
        final.turns = list(state.kept)
        final.scored_by = kit.scorer.identity
        final.task_description = plan.goal
        try:
            score = kit.scorer.score_batch((), [plan.goal])[0]
            final.task_description_harmlessness = finite_or_none(score)
        except BackendError:
            pass
        last = state.last
        if last is None:  # every turn was refused and taken back
            last = Assessment(Verdict(status="none"), score=None, refused=None, reached=False)
        annotate(final, kit, last, plan.goal, backtracks=len(state.branches), **state.conversion)
        return final


def _record_conversion(conversion: dict[str, Any], turn: ConversationResult) -> None:
    """Keep a kept turn's converter records (its chain, the turn as written, failures)
    for the final conversation, as one conversation run with converters keeps them."""
    extra = turn.extra or {}
    if "converters" not in extra:
        return
    conversion["converters"] = extra["converters"]
    conversion.setdefault("original_turns", []).extend(extra.get("original_turns", []))
    failures = conversion.setdefault("converter_failures", [])
    failures += [
        {**f, "turn": len(conversion["original_turns"]) - 1}
        for f in extra.get("converter_failures", [])
    ]
