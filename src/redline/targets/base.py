"""What every target is made of: messages in, candidate replies out.

``targets`` is model code and knows nothing of the store. Layers:
- a :class:`Backend` renders messages for one model (chat template or a Human:/Assistant:
  transcript for base models) and samples ``n`` replies;
- a defence (plain, hhh, rs...) turns a red-team conversation into the messages a backend
  sees (system prompt, few-shot examples) and may rank samples with a :class:`Scorer`;
- a :class:`TargetModel` is a named defence over a backend, what the platform talks to.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol, TypedDict, runtime_checkable

if TYPE_CHECKING:
    from typing_extensions import Unpack

Role = Literal["system", "human", "assistant"]


@dataclass(frozen=True)
class Message:
    """One message. ``pinned`` marks the system prompt and few-shot examples: when a
    conversation overflows the context, backends drop the oldest *unpinned* turns first."""

    role: Role
    text: str
    pinned: bool = False


Conversation = Sequence[Message]


@dataclass
class Sample:
    """One generated reply and what it cost."""

    text: str
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_s: float = 0.0
    meta: dict[str, Any] = field(default_factory=dict)


class GenerateOptions(TypedDict, total=False):
    """How ``Backend.generate`` samples; each key optional, defaults in :class:`Generation`.

    Why a TypedDict: the options are written once, here, instead of in the signature of
    every backend (each unpacks them with ``Generation(**options)``)."""

    max_tokens: int
    temperature: float
    seed: int | None
    ignore_eos: bool
    embed: bool
    top_logprobs: int


@dataclass(frozen=True)
class Generation:
    """:class:`GenerateOptions` with their defaults: at most ``max_tokens`` tokens per
    reply, at ``temperature``; ``seed`` makes sampling reproducible (None: random);
    ``ignore_eos``, ``embed`` and ``top_logprobs`` as :class:`Backend` says."""

    max_tokens: int = 128
    temperature: float = 0.8
    seed: int | None = None
    ignore_eos: bool = False
    embed: bool = False
    top_logprobs: int = 0

    def __post_init__(self) -> None:
        # checked here, once, for every backend (a remote server would answer a 400)
        if self.top_logprobs < 0:
            raise ValueError(f"top_logprobs must be >= 0 (got {self.top_logprobs})")


@runtime_checkable
class Backend(Protocol):
    """A language model that samples ``n`` replies to the same messages.

    Every ability is declared here, so callers never probe an object for it:
    ``supports_embeddings`` says whether ``generate(..., embed=True)`` puts the reply's
    mean hidden state in ``Sample.meta["embedding"]`` (a rejection-sampling scorer of the
    same model then needs no second forward pass); a backend that cannot still accepts
    ``embed`` and ignores it. ``ignore_eos`` keeps decoding past end-of-sequence tokens
    (benchmarks measuring a fixed number of tokens); ``name`` is the model's identity
    (scorers compare it with their own backbone). ``top_logprobs=k`` asks for the ``k``
    most likely tokens at every generated position, as OpenAI's API returns them, in
    ``Sample.meta["logprobs"]``: one ``{"token": text, "top": {text: log-probability}}``
    per token (an LLM judge reads its score's distribution there); a server that does not
    return them leaves the key out.
    """

    name: str
    supports_embeddings: bool

    def generate(
        self, conversation: Conversation, n: int = 1, **options: Unpack[GenerateOptions]
    ) -> list[Sample]: ...


@runtime_checkable
class Scorer(Protocol):
    """Harmlessness of replies given the conversation before them; lower = more harmful.

    The one scorer protocol: rejection sampling ranks with it, attack code and rescoring
    store its scores under ``identity`` (so results of different judges never mix).
    ``score_batch`` returns one float per reply (NaN for a reply it cannot score, such as
    an empty one); ``score`` is one reply. ``accepts_embeddings_from(backend)`` says
    whether hidden states that ``backend`` returns while sampling are this scorer's
    features, and then ``score_embeddings`` scores them; scorers that read text only
    answer False (derive from :class:`TextScorer`).
    """

    identity: str

    def score(self, context: Conversation, reply: str) -> float: ...

    def score_batch(self, context: Conversation, replies: Sequence[str]) -> list[float]: ...

    def accepts_embeddings_from(self, backend: Backend) -> bool: ...

    def score_embeddings(self, embeddings: Sequence[Any]) -> list[float]: ...


class TextScorer(ABC):
    """Base of scorers that read text only: ``score`` is a batch of one and hidden states
    are never accepted, so such a scorer writes only ``identity`` and ``score_batch``."""

    identity: str

    @abstractmethod
    def score_batch(self, context: Conversation, replies: Sequence[str]) -> list[float]:
        """One score per reply, NaN for a reply that cannot be scored."""

    def score(self, context: Conversation, reply: str) -> float:
        return self.score_batch(context, [reply])[0]

    def accepts_embeddings_from(self, backend: Backend) -> bool:
        return False

    def score_embeddings(self, embeddings: Sequence[Any]) -> list[float]:
        raise NotImplementedError(
            f"{type(self).__name__} reads text only; check accepts_embeddings_from first"
        )


@dataclass(frozen=True)
class TargetInfo:
    """Identity of a target: ``name`` is ``family-size/defence``; ``model_type`` is the
    hh-rlhf dataset label (:data:`redline.vocabulary.MODEL_TYPES`)."""

    name: str
    family: str
    size_label: str
    num_params: int
    model_type: str
    defence: str
    config: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class TargetModel(Protocol):
    """A named, defended model: the only thing the platform and attackers talk to."""

    info: TargetInfo

    def reply(
        self, conversation: Conversation, n: int = 2, seed: int | None = None
    ) -> list[Sample]:
        """``n`` candidate replies to a conversation that ends with a human message."""
        ...
