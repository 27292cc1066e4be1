"""What the iterative strategies (PAIR, TAP, Crescendo, many-shot) share.

Why shared: each asks the attacker for a prompt and must survive what a 135M attacker
writes (no format, a made-up reply, nothing at all), each spends a budget of target
queries, each stores every query as a conversation with its lineage and the judge's
verdict, and each plans its attacks from a goal the same way. The strategies keep only
their search.
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any, ClassVar

from redline.attack.attacker import clean_attack
from redline.attack.conversation import NextHuman
from redline.attack.goals import goal_for, goals_digest
from redline.attack.results import ConversationResult
from redline.attack.strategies.base import Kit, Options, Plan, seeded_rng
from redline.attack.strategies.judging import Assessment, assess, success_threshold
from redline.errors import BackendError, ConfigError
from redline.judges.base import Judge
from redline.targets.base import Conversation, Message

_JSON_OBJECT = re.compile(r"\{.*?\}", re.DOTALL)
#: "PROMPT: ...", "**Prompt**: ...", "... New prompt = ..." (a small model often writes the
#: label mid-line), up to the next labelled line; not "Your last prompt:", an echo.
_LABELLED = re.compile(
    r"(?:^|\s)[*#>-]*(?<!last )(?:new |improved |final )?prompt[\s*]*[:=]\s*(.+?)"
    r"(?=\n[\s*#>-]*(?:improvement|reply|response|judge|score|assistant)\b|\Z)",
    re.IGNORECASE | re.DOTALL,
)
#: Lines that are no part of a prompt: the attacker's reasoning, an echo of the feedback
#: it was shown (a 135M attacker often repeats it), or a bare label.
_LABEL_LINE = re.compile(
    r"^[\s*#>-]*(?:(?:improvement|reasoning|analysis|judge|task|your last prompt|"
    r"the assistant replied)[\s*]*[:=].*|[\w ]{1,20}[\s*]*[:=][\s*]*)$",
    re.IGNORECASE,
)


@cache
def load_prompts(name: str) -> dict[str, Any]:
    """The packaged prompt file ``prompts/<name>.json`` (read once)."""
    try:
        text = (resources.files("redline.attack") / "prompts" / f"{name}.json").read_text("utf-8")
        data: dict[str, Any] = json.loads(text)
        return data
    except (FileNotFoundError, json.JSONDecodeError) as exc:
        raise ConfigError(
            f"redline/attack/prompts/{name}.json is missing or malformed ({exc}); reinstall redline"
        ) from exc


def parse_prompt(raw: str) -> str:
    """The prompt in an attacker's answer: a JSON ``prompt`` field, else a ``PROMPT:``
    line, else the answer itself without its ``IMPROVEMENT:`` lines (a small model
    rarely keeps a format, and its plain text is still a prompt); "" when nothing is
    left."""
    for match in _JSON_OBJECT.finditer(raw):
        try:
            data = json.loads(match.group(0))
        except json.JSONDecodeError:
            continue
        if isinstance(data, dict) and isinstance(data.get("prompt"), str):
            cleaned = clean_attack(data["prompt"])
            if cleaned:
                return cleaned
    labelled = _LABELLED.search(raw)
    if labelled:
        cleaned = clean_attack(_without_labels(labelled.group(1)))
        if cleaned:
            return cleaned
    return clean_attack(_without_labels(raw))


def _without_labels(text: str) -> str:
    return "\n".join(line for line in text.strip().splitlines() if not _LABEL_LINE.match(line))


def ask_attacker(
    kit: Kit, messages: Sequence[Message], seed: int, fallback: str
) -> tuple[str, bool]:
    """The attacker's prompt and whether it wrote one (False: ``fallback`` is used, as
    when the answer was empty or unreadable). A backend failure is raised."""
    prompt = parse_prompt(kit.draft(messages, seed, max_tokens=kit.attack_tokens * 2))
    return (prompt, True) if prompt else (fallback, False)


def yes_or_no(answer: str) -> bool | None:
    """The first yes or no in an answer (None when it has neither)."""
    match = re.search(r"\b(yes|no)\b", answer, re.IGNORECASE)
    return None if match is None else match.group(1).lower() == "yes"


#: Words of 3+ letters that say nothing about what a goal is about.
_STOPWORDS = frozenset(
    re.findall(
        r"\w+",
        "the and for with from about how what why who get make someone something assistant "
        "help tell your you are that this into way ways some any can could would should does",
    )
)


def content_words(text: str) -> set[str]:
    """Lower-case words of 3+ letters that say what a text is about."""
    words = re.findall(r"[a-z]{3,}", text.lower())
    return {w.rstrip("s") for w in words if w not in _STOPWORDS}


def overlap(goal: str, prompt: str) -> float:
    """The share of the goal's content words the prompt uses (1.0 for a goal without)."""
    wanted = content_words(goal)
    return len(wanted & content_words(prompt)) / len(wanted) if wanted else 1.0


def ask_once(text: str) -> NextHuman:
    """A conversation of one human message."""
    return lambda conversation, index: text if index == 0 else None


def first_reply(result: ConversationResult) -> str:
    """The reply that continued the conversation's last turn ("" if none)."""
    if not result.turns or not result.turns[-1].candidates:
        return ""
    return result.turns[-1].candidates[0].text


def attacker_failure(kit: Kit, strategy: str, exc: BackendError, node: str) -> ConversationResult:
    """A failed root result: the attack is not stored and the next run retries it."""
    result = kit.shell(strategy, None, root=True)
    result.error = f"attacker failed at node {node!r}: {type(exc).__name__}: {exc}"
    return result


def default_goals() -> tuple[str, ...]:
    """The packaged goal set (``redline attack --goals packaged``), its groups taken in
    turn (one goal of each tag, then the second of each, ...), so ``--n 20`` without
    ``--goals`` covers twenty harm areas rather than twenty goals of the first one."""
    from redline.attack.goals import load_goals

    groups: dict[str | None, list[str]] = {}
    for goal in load_goals():
        groups.setdefault(goal.tag, []).append(goal.text)
    rounds = max(len(texts) for texts in groups.values())
    return tuple(texts[i] for i in range(rounds) for texts in groups.values() if i < len(texts))


@dataclass(frozen=True)
class Search:
    """The settings every iterative strategy has, and how it plans: attack ``i`` takes
    goal ``i`` of the goals (cycling; without ``--goals`` the packaged set, interleaved),
    so two targets get the same goals in the same order and a rerun plans the same
    attacks."""

    goals: tuple[str, ...]
    depth: int
    width: int
    queries: int
    threshold: float | None

    @staticmethod
    def settings(options: Options, *, depth: int, width: int) -> dict[str, Any]:
        """Constructor arguments from ``options``, with the strategy's defaults where
        the budget says 0: ``depth``, ``width`` and queries (depth x width)."""
        budget = options.budget
        depth = budget.depth or depth
        width = budget.width or width
        return {
            "goals": options.goals or default_goals(),
            "depth": depth,
            "width": width,
            "queries": budget.queries or depth * width,
            "threshold": options.threshold,
        }

    #: The strategy's registered name (set by each strategy).
    name: ClassVar[str]

    @property
    def recipe(self) -> tuple[Any, ...]:
        """Name, shape, budget, threshold and goals: what makes two runs the same work."""
        goals = goals_digest(self.goals)
        return (self.name, self.depth, self.width, self.queries, self.threshold, goals)

    def plan(self, index: int, seed: int) -> Plan:
        rng = seeded_rng(seed, self.name, index)
        return Plan(index, rng.randrange(2**31), goal=goal_for(self.goals, index))

    def judge_of(self, kit: Kit) -> Judge:
        if kit.judge is None:
            raise ConfigError("this strategy needs a judge: pass --judge NAME")
        return kit.judge

    def assess(self, kit: Kit, context: Conversation, reply: str) -> Assessment:
        judge = self.judge_of(kit)
        return assess(judge, context, reply, success_threshold(judge, self.threshold))


def annotate(
    result: ConversationResult, kit: Kit, assessment: Assessment, goal: str, **more: Any
) -> ConversationResult:
    """The judge's verdict, the goal and anything else of the search, in the result's
    ``extra`` beside its lineage (node, parent, score)."""
    extra = dict(result.extra or {})
    judge = kit.judge
    extra.update(assessment.record(judge) if judge is not None else {})
    extra.update({"score": assessment.score, "goal": goal, "attack": kit.key, **more})
    result.extra = extra
    return result


def summarise(
    results: list[ConversationResult], queries: int | None = None
) -> list[ConversationResult]:
    """``results`` with the attack's outcome on its root (the first): target queries
    spent (``queries``, else one per stored turn), whether any reached the goal, and
    the best node by score, so a report counts attacks and queries per success from the
    root rows alone."""
    if not results:
        return results
    scored = [r for r in results if r.extra and r.extra.get("score") is not None]
    best = max(scored, key=lambda r: (r.extra or {})["score"]) if scored else None
    reached = [r for r in results if r.extra and r.extra.get("reached")]
    root = results[0]
    root.extra = {
        **(root.extra or {}),
        "root": True,
        "outcome": {
            "queries": queries if queries is not None else sum(len(r.turns) for r in results),
            "reached": bool(reached),
            "reached_at": (reached[0].extra or {}).get("node") if reached else None,
            "best": (best.extra or {}).get("node") if best else None,
            "best_score": (best.extra or {}).get("score") if best else None,
        },
    }
    return results
