"""Where calibrations and verdicts live: JSON under ``DATA_DIR/judges/``.

Why files and not a table: calibrations are few and read whole (``redline judge list``),
and verdicts are a cache keyed by the judge's identity and a hash of (context, reply),
so an expensive LLM judgement is never computed twice and never mixed with another
judge's. Both are rewritten atomically.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from redline.judges.base import Judge, Verdict
from redline.targets.base import Conversation


def judges_dir(data_dir: Path) -> Path:
    return Path(data_dir) / "judges"


def _write_json(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    with os.fdopen(fd, "w", encoding="utf-8") as fh:
        json.dump(data, fh, indent=1, default=str)
        fh.write("\n")
    os.replace(tmp, path)


def _read_json(path: Path, default: Any) -> Any:
    try:
        return json.loads(path.read_text("utf-8"))
    except FileNotFoundError:
        return default
    except json.JSONDecodeError:
        return default


def save_calibration(data_dir: Path, record: dict[str, Any]) -> dict[str, Any]:
    """Append one calibration (stamped now) to ``calibration.json``."""
    path = judges_dir(data_dir) / "calibration.json"
    records = _read_json(path, [])
    record = {**record, "at": datetime.now(UTC).isoformat(timespec="seconds")}
    records.append(record)
    _write_json(path, records)
    return record


def last_calibrations(data_dir: Path) -> dict[str, dict[str, Any]]:
    """The newest calibration of every judge name."""
    out: dict[str, dict[str, Any]] = {}
    for record in _read_json(judges_dir(data_dir) / "calibration.json", []):
        out[str(record.get("judge"))] = record
    return out


def item_key(context: Conversation, reply: str) -> str:
    digest = hashlib.sha256()
    for message in context:
        digest.update(f"{message.role}\x00{message.text}\x01".encode())
    digest.update(f"\x02{reply}".encode())
    return digest.hexdigest()[:32]


class VerdictCache:
    """Verdicts of one judge identity, in ``verdicts/<identity>.json``."""

    def __init__(self, data_dir: Path, identity: str) -> None:
        safe = identity.replace(":", "_").replace("/", "_")
        self.path = judges_dir(data_dir) / "verdicts" / f"{safe}.json"
        self.identity = identity
        self._data: dict[str, dict[str, Any]] = _read_json(self.path, {})

    def judge(self, judge: Judge, items: Sequence[tuple[Conversation, str]]) -> list[Verdict]:
        """Cached verdicts, judging (and saving) only the items not seen before."""
        if judge.identity != self.identity:
            raise ValueError(f"cache of {self.identity} asked to store {judge.identity}")
        keys = [item_key(c, r) for c, r in items]
        todo = sorted({i for i, k in enumerate(keys) if k not in self._data})
        if todo:
            fresh = judge.judge([items[i] for i in todo])
            for i, verdict in zip(todo, fresh, strict=True):
                self._data[keys[i]] = verdict.to_dict()
            _write_json(self.path, self._data)
        return [Verdict.from_dict(self._data[k]) for k in keys]
