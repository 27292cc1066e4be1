"""How much of what a helpful answer says a reply says too: a verifiable helpfulness reward.

Why this exists: two judges of evasion were trained against and beaten. With the refusal
lexicon alone a 60-step RLHF run learned to deflect with questions; with an LM evasion
probe added, it learned to change the subject to a fluent definition of something else
(docs/experiments/rlhf-evasion-penalty.md). Both judges read the *form* of a reply. This
reads its *content*: every benign training request comes with a reference answer written
for it (``redline/harmlessness/data/benign_pairs.json``), and the reward is the share of the
reference's content words, those not already in the request, that the reply also uses.
Repeating the question earns nothing, and neither does a definition of something else.
It is coarse (an answer in other words scores low), but RLOO compares the k replies to one
prompt with each other, so a score that ranks on-topic answers above evasions is enough.

Words are compared by their first :data:`STEM` letters (so "boil", "boiling" and "boiled"
match) after dropping scikit-learn's English stop words.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

from redline.errors import ConfigError

#: Letters that identify a word (a cheap stem: "boiling" and "boiled" share "boil").
STEM = 5
_WORD = re.compile(r"[a-z0-9]+")


def content_words(text: str) -> frozenset[str]:
    """Stems of the words of ``text`` that carry content (not stop words, not 1 letter)."""
    from sklearn.feature_extraction.text import ENGLISH_STOP_WORDS

    return frozenset(
        w[:STEM]
        for w in _WORD.findall(text.lower())
        if w not in ENGLISH_STOP_WORDS and (len(w) > 1 or w.isdigit())
    )


def coverage(request: str, reply: str, reference: str) -> float:
    """Share of the reference answer's new content (stems not in the request) that the
    reply uses, in [0, 1]. A reference that only repeats the request counts all its words."""
    wanted = content_words(reference) - content_words(request) or content_words(reference)
    if not wanted:
        return 0.0
    return len(wanted & content_words(reply)) / len(wanted)


class ReferenceContent:
    """:func:`coverage` of replies to requests that each have a reference answer."""

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
