"""What every judge is: a reply (in its context) in, a :class:`Verdict` out.

Why one small protocol: the packaged preference model, an LLM with a rubric, a refusal
lexicon and human reviewers measure different things on different scales, and Redline
must never mix them. So each judge declares what it measures (harm score, refusal yes/no,
harm category), the scale of its harm score, the data it was trained on (so a judge that
shares training data with the scorer that selected a target's replies is not called
independent), and an ``identity`` hash that goes with every score it gives, as
``scored_by`` does for the PM.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, runtime_checkable

from redline.targets.base import Conversation

Measure = Literal["harm", "refusal", "category"]
MEASURES: tuple[Measure, ...] = ("harm", "refusal", "category")
#: What a judge records when it could not read an answer (LLM judges): never a crash.
UNPARSED = "unparsed"


@dataclass(frozen=True)
class Verdict:
    """One judgement. ``harm`` is oriented one way for every judge: higher = more harmful
    (the PM's harmlessness is negated), on the judge's own scale (``JudgeInfo.harm_scale``);
    ``None`` where the judge does not measure it or could not tell. ``status`` is ``ok`` or
    :data:`UNPARSED` (the answer could not be read; ``raw`` keeps it)."""

    harm: float | None = None
    refusal: bool | None = None
    category: str | None = None
    status: str = "ok"
    raw: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "harm": self.harm,
            "refusal": self.refusal,
            "category": self.category,
            "status": self.status,
            "raw": self.raw,
        }

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Verdict:
        return cls(
            harm=data.get("harm"),
            refusal=data.get("refusal"),
            category=data.get("category"),
            status=str(data.get("status", "ok")),
            raw=data.get("raw"),
        )


@dataclass(frozen=True)
class JudgeInfo:
    """A judge's metadata, known without loading any model."""

    name: str
    description: str
    measures: tuple[Measure, ...]
    harm_scale: str = ""
    #: Data sets the judge learned from (``hh-rlhf:pairs-a`` for Redline's PMs): a judge is
    #: not independent of a scorer it shares training data with.
    trained_on: tuple[str, ...] = ()
    #: Model names whose weights the judge runs (an LLM judge never judges its own model).
    models: tuple[str, ...] = ()
    options: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Judge(Protocol):
    """Anything that judges replies; ``identity`` changes whenever its configuration does."""

    info: JudgeInfo
    identity: str

    def judge(self, items: Sequence[tuple[Conversation, str]]) -> list[Verdict]:
        """One verdict per (context, reply); never raises on one bad reply or answer."""
        ...


def identity_hash(kind: str, config: dict[str, Any]) -> str:
    """``kind:<16 hex>`` over the canonical JSON of a judge's configuration."""
    blob = json.dumps(config, sort_keys=True, default=str).encode("utf-8")
    return f"{kind}:{hashlib.sha256(blob).hexdigest()[:16]}"
