"""The RLHF reward's content term: reference coverage of benign replies.

Why this exists: two judges of evasion were trained against and beaten. With the refusal
lexicon alone a 60-step RLHF run learned to deflect with questions; with an LM evasion
probe added, it learned to change the subject to a fluent definition of something else
(docs/experiments/rlhf-evasion-penalty.md). Both judges read the *form* of a reply. This
term rewards its *content*: every benign training request comes with a reference answer
written for it (``redline/harmlessness/data/benign_pairs.json``, ``--benign-prompts
pairs``), and a reply earns its :func:`~redline.judges.coverage.coverage` of that answer.
RLOO compares the k replies to one prompt with each other, so a measure that ranks
on-topic answers above evasions is enough. What it did when trained against:
docs/experiments/rlhf-content-reward.md.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from redline.errors import ConfigError
from redline.judges.coverage import coverage


class ReferenceContent:
    """:func:`~redline.judges.coverage.coverage` of replies to requests that each have a
    reference answer."""

    def __init__(self, references: Mapping[str, str]) -> None:
        if not references:
            raise ConfigError("the content reward needs reference answers; none were given")
        self.references = {_key(k): v for k, v in references.items()}

    def scores(self, pairs: Sequence[tuple[str, str]]) -> list[float]:
        """Coverage of each ``(request, reply)``; a request without a reference is an error
        (a silent 0 would punish the policy for the data's gap)."""
        out = []
        for request, reply in pairs:
            reference = self.references.get(_key(request))
            if reference is None:
                raise ConfigError(
                    f"no reference answer for the benign request {request[:60]!r}: the content "
                    "reward needs benign prompts with answers (--benign-prompts pairs)"
                )
            out.append(coverage(request, reply, reference))
        return out


def _key(text: str) -> str:
    return " ".join(text.lower().split())
