"""Comparison pairs as (context, chosen reply, rejected reply), from files or the store.

Why a separate step: a hh-rlhf pair is two whole transcripts, but the preference model
scores one reply given everything before it. Pairs that differ only in the final
assistant reply become one shared context and two replies; anything else (identical
texts, different contexts, an empty reply, no assistant turn) is skipped and counted,
never a crash.
"""

from __future__ import annotations

import hashlib
import json
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

from redline.datasets.hhrlhf import ComparisonRecord, read_file
from redline.datasets.transcripts import context_before_last_reply, split_messages
from redline.errors import DataFormatError
from redline.targets.base import Message

#: The file of the packaged counter-bias pairs (tagged ``provenance.COUNTER_PAIRS``).
COUNTER_PAIRS_FILE = "benign_pairs.json"


@dataclass(frozen=True)
class Pair:
    """``chosen`` is the less harmful reply to ``context``."""

    context: tuple[Message, ...]
    chosen: str
    rejected: str


@dataclass
class PairSet:
    pairs: list[Pair] = field(default_factory=list)
    skipped: Counter[str] = field(default_factory=Counter)
    problems: list[str] = field(default_factory=list)

    def extend(self, other: PairSet) -> None:
        self.pairs.extend(other.pairs)
        self.skipped.update(other.skipped)
        self.problems.extend(other.problems)

    def data_hash(self) -> str:
        """sha256 over the pairs in order: the identity of a training set."""
        digest = hashlib.sha256()
        for pair in self.pairs:
            for message in pair.context:
                digest.update(f"{message.role}\x00{message.text}\x01".encode())
            digest.update(f"\x02{pair.chosen}\x03{pair.rejected}\x04".encode())
        return digest.hexdigest()


def transcript_context(text: str) -> tuple[Message, ...]:
    """hh-rlhf text (``\\n\\nHuman: ...``) as messages."""
    roles = {"Human": "human", "Assistant": "assistant"}
    return tuple(Message(roles[role], body) for role, body in split_messages(text))  # type: ignore[arg-type]


def pair_from_transcripts(chosen: str, rejected: str) -> Pair | str:
    """A :class:`Pair`, or the reason (a short label) it cannot be one."""
    if chosen == rejected:
        return "identical chosen and rejected"
    a = context_before_last_reply(chosen)
    b = context_before_last_reply(rejected)
    if a is None or b is None:
        return "no assistant reply"
    if a[0] != b[0]:
        return "contexts differ before the last reply"
    context = transcript_context(a[0])
    if not context:
        return "empty context"
    if not a[1].strip() or not b[1].strip():
        return "empty reply"
    if a[1] == b[1]:
        return "identical final replies"
    return Pair(context, a[1], b[1])


def pairs_from_records(records: Iterable[dict[str, str]]) -> PairSet:
    result = PairSet()
    for record in records:
        item = pair_from_transcripts(record["chosen"], record["rejected"])
        if isinstance(item, Pair):
            result.pairs.append(item)
        else:
            result.skipped[item] += 1
    return result


def load_pair_files(paths: Sequence[str | Path]) -> PairSet:
    """Read hh-rlhf comparison files (JSON lines or array, gzipped or not)."""
    result = PairSet()
    for path in paths:
        read = read_file(path, skip_invalid=True)
        if read.kind.value != "comparisons":
            raise DataFormatError(
                "holds red-team attempts, not comparison pairs (chosen/rejected)", path=str(path)
            )
        records = [
            {"chosen": r.chosen, "rejected": r.rejected}
            for r in read.records
            if isinstance(r, ComparisonRecord)
        ]
        result.extend(pairs_from_records(records))
        for problem in read.invalid:
            result.skipped["invalid record"] += 1
            result.problems.append(str(problem))
    return result


def load_counter_pairs() -> PairSet:
    """The packaged counter-bias pairs (``data/benign_pairs.json``): an everyday request,
    its helpful answer chosen over a refusal or evasion.

    Why: hh-rlhf harmlessness labels prefer a refusal whenever the request is harmful, and
    nothing in them says a refusal of a harmless request is worse than its answer, so a PM
    fit on them alone learns "refusing is harmless" (it preferred the refusal on all 106
    items of the benign evaluation set). These pairs are for training only; their prompts
    never repeat those of ``redline.judges`` benign set or of the RLHF benign prompts.
    """
    text = resources.files("redline.harmlessness").joinpath("data", COUNTER_PAIRS_FILE)
    items = json.loads(text.read_text("utf-8"))["items"]
    return PairSet(
        [
            Pair((Message("human", item["prompt"]),), item["helpful"], item["refusal"])
            for item in items
        ]
    )
