"""Many-shot: a long faux dialogue in which the assistant always complies, then the goal.

After Anil et al. (2024), "Many-shot Jailbreaking": the prompt holds ``shots`` made-up
Human/Assistant exchanges in which the assistant answers at once, then the goal as the
final question, all in one human message (as the paper sends it), so in-context
learning pulls the target toward complying. The shots are drawn (seeded, per attack)
from ``prompts/many_shot.json`` (harmless but compliant exchanges written for Redline)
or, with ``shots_from="store"``, from the store's most successful human attacks (their
opener and the reply that continued them). The attacker only rewrites the goal (a task
description) as a question; when it writes nothing usable the goal is asked as written.

One target query per attack by default. With a larger ``depth`` (and budget), an attack
that did not reach the goal tries again with twice the shots (the paper's power law:
more shots, more success), each try a node ``"<k>"`` refined from the one before.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from sqlalchemy import select

from redline.attack.attacker import clean_attack
from redline.attack.results import ConversationResult
from redline.attack.strategies.base import Kit, Lineage, Options, Plan, seeded_rng
from redline.attack.strategies.few_shot import most_successful_openers
from redline.attack.strategies.search import (
    Search,
    annotate,
    ask_once,
    attacker_failure,
    first_reply,
    load_prompts,
    summarise,
)
from redline.errors import BackendError, ConfigError, NotFoundError
from redline.store.models import Candidate, Turn
from redline.targets.base import Message

if TYPE_CHECKING:
    from redline.store import Store

DEFAULT_SHOTS = 16
_QUESTION_LABEL = re.compile(r"^\s*(?:the )?(?:question|rewritten question)\s*:\s*", re.I)
MAX_SHOT_CHARS = 300


def packaged_shots() -> tuple[tuple[str, str], ...]:
    """The exchanges shipped in ``prompts/many_shot.json``."""
    data = load_prompts("many_shot")
    try:
        return tuple((str(h), str(a)) for h, a in data["shots"])
    except (KeyError, TypeError, ValueError) as exc:
        raise ConfigError(f"prompts/many_shot.json has no valid shots ({exc})") from exc


def store_shots(store: Store, k: int) -> tuple[tuple[str, str], ...]:
    """The ``k`` most successful stored human attacks as exchanges: the opener and the
    reply that continued it (lowest min-harmlessness first, then highest rating)."""
    query = most_successful_openers(
        select(Turn.human, Candidate.text)
        .join(Candidate, Candidate.turn_id == Turn.id)
        .where(Candidate.picked),
        k,
    )
    with store.session() as session:
        pairs = [(h.strip(), a.strip()) for h, a in session.execute(query) if h and a]
    unique = list(dict.fromkeys(p for p in pairs if p[0] and p[1]))[:k]
    if len(unique) < k:
        raise NotFoundError(
            f"many-shot from the store needs {k} scored or rated human attacks with replies, "
            f"the store has {len(unique)}; import some, or use the packaged shots"
        )
    return tuple(unique)


def faux_dialogue(shots: tuple[tuple[str, str], ...], question: str) -> str:
    """The one human message: every exchange, then the question left for the target."""
    lines = [f"Human: {h[:MAX_SHOT_CHARS]}\n\nAssistant: {a[:MAX_SHOT_CHARS]}" for h, a in shots]
    return "\n\n".join([*lines, f"Human: {question}"])


@dataclass(frozen=True)
class ManyShot(Search):
    """``shots`` exchanges drawn per attack from ``pool``, then the goal as a question."""

    name: ClassVar[str] = "many-shot"
    description: ClassVar[str] = (
        "many-shot: a faux dialogue of compliant exchanges, then the goal (--shots N)"
    )
    needs_judge: ClassVar[bool] = True

    pool: tuple[tuple[str, str], ...] = ()
    shots: int = DEFAULT_SHOTS
    source: str = "file"

    def __post_init__(self) -> None:
        if not 0 < self.shots <= len(self.pool):
            raise ConfigError(
                f"--shots {self.shots} needs that many exchanges; the {self.source} has "
                f"{len(self.pool)}"
            )

    @classmethod
    def setup(cls, options: Options, store: Store) -> ManyShot:
        shots = options.shots or DEFAULT_SHOTS
        source = options.shots_from
        if source == "store":
            pool = store_shots(store, shots * options.pool_factor)
        elif source == "file":
            pool = packaged_shots()
        else:
            raise ConfigError(f"shots come from 'file' or 'store', not {source!r}")
        settings = Search.settings(options, depth=1, width=1)
        return cls(**settings, pool=pool, shots=shots, source=source)

    @property
    def recipe(self) -> tuple[Any, ...]:
        # not the pool itself: like few-shot's examples, the store's best attacks change
        # as people attack, and a rerun must still find the attacks it ran
        return (*super().recipe, self.shots, self.source)

    def _question(self, kit: Kit, goal: str, seed: int) -> tuple[str, bool]:
        rewrite = load_prompts("many_shot")["rewrite"].format(goal=goal)
        raw = kit.draft([Message("human", rewrite)], seed)
        question = clean_attack(_QUESTION_LABEL.sub("", raw.strip()).split("\n")[0])
        return (question, True) if question else (goal, False)

    def run(self, plan: Plan, kit: Kit) -> Iterator[ConversationResult]:
        try:
            question, wrote = self._question(kit, plan.goal, plan.seed)
        except BackendError as exc:
            yield attacker_failure(kit, self.name, exc, "0")
            return
        results: list[ConversationResult] = []
        for step in range(min(self.depth, self.queries)):
            shots = min(self.shots * 2**step, len(self.pool))
            rng = seeded_rng(plan.seed, self.name, step)
            prompt = faux_dialogue(tuple(rng.sample(list(self.pool), shots)), question)
            seed = (plan.seed + 7919 * step) % 2**31
            result = kit.converse(
                ask_once(prompt),
                turns=1,
                seed=seed,
                strategy=self.name,
                lineage=Lineage(str(step), str(step - 1) if step else None),
                root=not results,
                task_description=None if results else plan.goal,
            )
            if result.error:
                yield result
                return
            assessment = self.assess(kit, [Message("human", prompt)], first_reply(result))
            extra = {"shots": shots, "question": question, "attacker_wrote": wrote}
            annotate(result, kit, assessment, plan.goal, **extra)
            results.append(result)
            if assessment.reached:
                break
        yield from summarise(results)
