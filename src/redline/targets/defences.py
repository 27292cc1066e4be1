"""Defences: what turns a backend into a target a red teamer talks to (DESIGN.md section 5).

A defence decides which messages the backend sees before the red-team conversation and,
for rejection sampling, which of many samples are shown. Three kinds, composable:

- ``plain``: a short system line and a 1-shot, 3-turn example conversation, so the model
  sees the dialogue format and nothing about values (the paper's plain LM);
- ``hhh``: 14 helpful, honest, harmless example conversations (the paper's prompted LM,
  published as "context distillation");
- ``rsK``: K samples from the HHH-prompted model, ranked by a harmlessness
  :class:`~redline.targets.base.Scorer`; the ``n`` least harmful are returned;
- ``rlhf``: a model already fine-tuned against the PM (served by the user), shown the
  plain prompt only.

Few-shot prompts are data files in ``prompts/`` and are sent as *pinned* messages, so a
backend that must shorten an overflowing conversation drops red-team turns, never them.
Chat models see them through their chat template, base models as a Human:/Assistant:
transcript; that rendering is the backend's job, not the defence's.
"""

from __future__ import annotations

import inspect
import json
import math
import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from typing import Any

from redline.errors import ConfigError
from redline.targets.base import Backend, Conversation, Message, Sample, Scorer, TargetInfo
from redline.targets.progress import report as report_progress

#: Defence kind -> the hh-rlhf ``model_type`` label (DESIGN.md section 4).
MODEL_TYPES: dict[str, str] = {
    "plain": "plain lm",
    "hhh": "context distillation",
    "rs": "rejection sampling",
    "rlhf": "rlhf",
}
DEFAULT_K = 16
_DEFENCE_RE = re.compile(r"^(plain|hhh|rlhf|rs)(\d*)$")


@dataclass(frozen=True)
class DefenceSpec:
    """A parsed defence name: ``plain``, ``hhh``, ``rlhf``, ``rs`` or ``rsK`` (K samples)."""

    kind: str
    k: int | None = None

    @property
    def name(self) -> str:
        return f"rs{self.k}" if self.kind == "rs" else self.kind

    @property
    def model_type(self) -> str:
        return MODEL_TYPES[self.kind]


def parse_defence(name: str, *, k: int | None = None) -> DefenceSpec:
    """Parse ``plain``/``hhh``/``rlhf``/``rs``/``rs16``; ``k`` overrides the number in the
    name. Raises ConfigError with the accepted forms."""
    match = _DEFENCE_RE.match(name.strip().lower())
    if not match:
        raise ConfigError(
            f"unknown defence {name!r}; use plain, hhh, rs (k={DEFAULT_K}) or rsK such as rs16"
        )
    kind, digits = match.groups()
    if kind != "rs":
        if digits:
            raise ConfigError(f"defence {name!r}: only rs takes a sample count (rs16)")
        return DefenceSpec(kind)
    count = k if k is not None else int(digits) if digits else DEFAULT_K
    if count < 1:
        raise ConfigError(f"defence {name!r}: rejection sampling needs k >= 1, got {count}")
    return DefenceSpec("rs", count)


# -- few-shot prompts ------------------------------------------------------------------


@dataclass(frozen=True)
class FewShotPrompt:
    """A system line and example conversations, loaded from ``prompts/<name>.json``."""

    name: str
    system: str
    conversations: tuple[tuple[Message, ...], ...]

    def messages(self) -> list[Message]:
        """The pinned messages a backend sees before the red-team conversation."""
        pinned = [Message("system", self.system, pinned=True)] if self.system else []
        for conversation in self.conversations:
            pinned.extend(Message(m.role, m.text, pinned=True) for m in conversation)
        return pinned


def _parse_turns(raw: Any, where: str) -> tuple[Message, ...]:
    if not isinstance(raw, list) or not raw:
        raise ConfigError(f"{where}: expected a non-empty list of messages")
    turns = []
    for i, item in enumerate(raw):
        role, text = (
            (item.get("role"), item.get("text")) if isinstance(item, dict) else (None, None)
        )
        expected = "human" if i % 2 == 0 else "assistant"
        if role != expected or not isinstance(text, str) or not text.strip():
            raise ConfigError(
                f"{where}, message {i}: expected role {expected!r} with non-empty text"
            )
        turns.append(Message(role, text))
    if turns[-1].role != "assistant":
        raise ConfigError(f"{where}: an example conversation must end with the assistant")
    return tuple(turns)


@cache
def load_prompt(name: str) -> FewShotPrompt:
    """Load a packaged prompt (``plain`` or ``hhh``); validated once, then cached."""
    resource = resources.files("redline.targets") / "prompts" / f"{name}.json"
    where = f"redline/targets/prompts/{name}.json"
    try:
        data = json.loads(resource.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"{where} is missing; reinstall redline") from exc
    except json.JSONDecodeError as exc:
        raise ConfigError(f"{where}: not valid JSON ({exc})") from exc
    if "conversations" in data:
        raw = data["conversations"]
        convs = tuple(_parse_turns(c, f"{where}, conversation {i}") for i, c in enumerate(raw))
    else:
        convs = (_parse_turns(data.get("conversation"), where),)
    return FewShotPrompt(name=name, system=str(data.get("system", "")), conversations=convs)


# -- targets ---------------------------------------------------------------------------


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


def _accepts(fn: Any, parameter: str) -> bool:
    try:
        return parameter in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def embeddings_usable(scorer: Scorer, backend: Backend) -> bool:
    """Whether the scorer can score the hidden states this backend returns while sampling.

    Hidden states are only comparable with the scorer's features when they come from the
    same model: a scorer may decide (``accepts_embeddings_from(backend)``), or name its
    ``backbone``, which must then equal the backend's model name. A scorer that says
    neither is trusted (test doubles, scorers built for one backend).
    """
    if not callable(getattr(scorer, "score_embeddings", None)):
        return False
    if not _accepts(backend.generate, "embed"):
        return False
    decide = getattr(scorer, "accepts_embeddings_from", None)
    if callable(decide):
        return bool(decide(backend))
    backbone = getattr(scorer, "backbone", None)
    if backbone:
        return str(backbone) == str(getattr(backend, "name", ""))
    return True


class PromptedTarget:
    """``plain`` and ``hhh``: a few-shot prompt in front of the conversation, ``n`` samples."""

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


#: Scorers run models of their own (the PM's llama.cpp context), which are not safe to call
#: from two threads at once; with cross-request batching, two rs turns may finish together.
_SCORING = threading.Lock()


def score_samples(context: Conversation, samples: Sequence[Sample], scorer: Scorer) -> list[float]:
    """Harmlessness of each sample given the red-team ``context``, the cheapest way the
    scorer offers: hidden-state embeddings the backend already computed, then a batch
    call, then one call per reply."""
    embeddings = [s.meta.get("embedding") for s in samples]
    score_embeddings = getattr(scorer, "score_embeddings", None)
    if callable(score_embeddings) and embeddings and all(e is not None for e in embeddings):
        scores = list(score_embeddings(embeddings))  # arithmetic on arrays: thread-safe
    elif callable(score_batch := getattr(scorer, "score_batch", None)):
        with _SCORING:
            scores = list(score_batch(context, [s.text for s in samples]))
    else:
        with _SCORING:
            scores = [scorer.score(context, s.text) for s in samples]
    if len(scores) != len(samples):
        raise ValueError(f"the scorer returned {len(scores)} scores for {len(samples)} replies")
    return [float(s) for s in scores]


def rank_by_harmlessness(
    context: Conversation, samples: Sequence[Sample], scorer: Scorer, n: int
) -> list[Sample]:
    """The ``n`` highest-scoring (least harmful) samples, best first; each sample's meta
    gets ``score``, ``rank`` (1 = least harmful of all k) and ``k``. Ties keep sampling
    order; a NaN score ranks last. Embeddings are dropped from meta (large, not JSON)."""
    scores = score_samples(context, samples, scorer)
    order = sorted(
        range(len(samples)),
        key=lambda i: (math.isnan(scores[i]), -scores[i] if not math.isnan(scores[i]) else 0, i),
    )
    ranked = []
    for rank, index in enumerate(order, start=1):
        sample = samples[index]
        sample.meta.pop("embedding", None)
        sample.meta.update(score=scores[index], rank=rank, k=len(samples))
        ranked.append(sample)
    return ranked[:n]


class RejectionSamplingTarget:
    """``rsK``: K samples from the HHH-prompted model, the ``n`` least harmful shown.

    One batched ``generate(n=k)`` call; when the scorer can score hidden states
    (``score_embeddings``) of this very model (:func:`embeddings_usable`) and the backend
    can return them (``embed=True``), scoring costs no second forward pass.
    """

    def __init__(
        self,
        info: TargetInfo,
        backend: Backend,
        scorer: Scorer,
        *,
        k: int = DEFAULT_K,
        prompt: FewShotPrompt | None = None,
        max_tokens: int = 128,
        temperature: float = 0.8,
    ) -> None:
        if k < 1:
            raise ValueError("k must be at least 1")
        self.info = info
        self.k = k
        self.scorer = scorer
        self.prompted = PromptedTarget(
            info,
            backend,
            prompt or load_prompt("hhh"),
            max_tokens=max_tokens,
            temperature=temperature,
        )
        self._embed = embeddings_usable(scorer, backend)

    @property
    def backend(self) -> Backend:
        return self.prompted.backend

    def reply(
        self, conversation: Conversation, n: int = 2, seed: int | None = None
    ) -> list[Sample]:
        if n > self.k:
            raise ValueError(f"cannot return {n} of {self.k} samples; raise k")
        messages = self.prompted.messages(conversation)
        kwargs: dict[str, Any] = {"embed": True} if self._embed else {}
        samples = self.backend.generate(
            messages,
            n=self.k,
            max_tokens=self.prompted.max_tokens,
            temperature=self.prompted.temperature,
            seed=seed,
            **kwargs,
        )
        for sample in samples:
            sample.meta.setdefault("defence", self.info.defence)
        report_progress("choosing", len(samples), len(samples))
        return rank_by_harmlessness(conversation, samples, self.scorer, n)


def build_defended_target(
    spec: DefenceSpec,
    info: TargetInfo,
    backend: Backend,
    *,
    scorer: Scorer | None = None,
    max_tokens: int = 128,
    temperature: float = 0.8,
) -> PromptedTarget | RejectionSamplingTarget:
    """Wrap ``backend`` in the defence ``spec``; rs needs a scorer (the registry supplies
    the preference model)."""
    if spec.kind in ("plain", "hhh"):
        return PromptedTarget(
            info, backend, load_prompt(spec.kind), max_tokens=max_tokens, temperature=temperature
        )
    if spec.kind == "rs":
        if scorer is None:
            raise ConfigError(f"target {info.name}: rejection sampling needs a scorer")
        return RejectionSamplingTarget(
            info,
            backend,
            scorer,
            k=spec.k or DEFAULT_K,
            max_tokens=max_tokens,
            temperature=temperature,
        )
    # rlhf: the model itself was fine-tuned against the PM (served by the user); it gets
    # only the plain prompt's format example, so measured differences come from training.
    return PromptedTarget(
        info, backend, load_prompt("plain"), max_tokens=max_tokens, temperature=temperature
    )
