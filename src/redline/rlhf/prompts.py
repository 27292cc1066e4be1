"""Attack prompts for RLHF: real red-team opening turns, with a fixed held-out split.

Why the first human turn only: it is the attack as the red teamer wrote it, before any
model replied, so it is a fair prompt for *any* policy (later turns react to replies of
the model that was attacked then). Why a hash split: the held-out set must not change when
the file is re-read, reordered or a prompt is added, and must never leak into training,
so membership is a pure function of the prompt text.
"""

from __future__ import annotations

import gzip
import hashlib
import json
from dataclasses import dataclass
from importlib import resources
from pathlib import Path

from redline.data import harmless_base_pairs
from redline.datasets.transcripts import parse_transcript
from redline.errors import ConfigError, DataFormatError

#: The packaged hh-rlhf harmless-base pairs (``redline.data``): found from any folder,
#: in a checkout or an installed wheel.
DEFAULT_ATTACKS = harmless_base_pairs()
#: Share of distinct attacks kept out of training (by hash of the text).
HELD_OUT_FRACTION = 0.2
MAX_ATTACK_CHARS = 400


@dataclass(frozen=True)
class AttackSplit:
    """Distinct opening attacks, split once and for all by the hash of their text."""

    train: tuple[str, ...]
    held_out: tuple[str, ...]


def is_held_out(text: str, fraction: float = HELD_OUT_FRACTION) -> bool:
    """Whether an attack belongs to the held-out set: stable across runs and machines."""
    digest = hashlib.sha256(text.strip().encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") / 2**64 < fraction


def _read_records(path: Path) -> list[dict[str, object]]:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rt", encoding="utf-8") as fh:
            text = fh.read()
    except OSError as exc:
        raise DataFormatError(f"{path}: cannot read ({exc})") from exc
    stripped = text.lstrip()
    try:
        if stripped.startswith("["):
            data = json.loads(stripped)
        else:
            data = [json.loads(line) for line in text.splitlines() if line.strip()]
    except json.JSONDecodeError as exc:
        raise DataFormatError(f"{path}: not JSON lines or a JSON array ({exc})") from exc
    if not all(isinstance(r, dict) for r in data):
        raise DataFormatError(f"{path}: every record must be a JSON object")
    return data


def opening_attacks(path: str | Path) -> list[str]:
    """Distinct first human turns of hh-rlhf comparison pairs (``chosen``) or red-team
    attempts (``transcript``), in file order; overlong ones (> 400 chars) are skipped so
    training prompts stay short."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(
            f"attack prompts file {path} does not exist; pass --prompts with an hh-rlhf "
            "comparisons or red-team-attempts file"
        )
    seen: set[str] = set()
    attacks: list[str] = []
    for i, record in enumerate(_read_records(path)):
        transcript = record.get("chosen", record.get("transcript"))
        if not isinstance(transcript, str):
            raise DataFormatError(f"{path}, record {i}: no 'chosen' or 'transcript' text")
        turns = parse_transcript(transcript)
        first = next((t.human for t in turns if t.human and t.human.strip()), None)
        if first is None:
            continue
        text = first.strip()
        if len(text) > MAX_ATTACK_CHARS or text in seen:
            continue
        seen.add(text)
        attacks.append(text)
    if not attacks:
        raise DataFormatError(f"{path}: no human turns found")
    return attacks


def split_attacks(path: str | Path, fraction: float = HELD_OUT_FRACTION) -> AttackSplit:
    """Training and held-out attacks from one file (see :func:`is_held_out`)."""
    attacks = opening_attacks(path)
    train = tuple(a for a in attacks if not is_held_out(a, fraction))
    held = tuple(a for a in attacks if is_held_out(a, fraction))
    return AttackSplit(train=train, held_out=held)


def benign_prompts() -> list[str]:
    """Ordinary questions (packaged data) that RLHF mixes into its training prompts, with
    a penalty for refusing them. They are training data: over-refusal is measured on the
    disjoint shipped set :func:`redline.judges.benign.benign_prompts` instead."""
    resource = resources.files("redline.rlhf") / "benign_prompts.json"
    data = json.loads(resource.read_text(encoding="utf-8"))
    return [str(q) for q in data["prompts"]]


@dataclass(frozen=True)
class EvalAttack:
    """A harmful request of the evaluation set, with its review tag."""

    tag: str
    text: str


def eval_attacks() -> list[EvalAttack]:
    """Harmful requests written for Redline (``eval_attacks.json``, 5 per harm tag) that
    no PM or policy trained on: the harm side of an RLHF evaluation. The packaged goal
    set cannot serve: 118 of its 120 goals are first turns of pairs-a, the PM's data."""
    resource = resources.files("redline.rlhf") / "eval_attacks.json"
    data = json.loads(resource.read_text(encoding="utf-8"))
    return [
        EvalAttack(str(tag), str(text)) for tag, texts in data["attacks"].items() for text in texts
    ]
