"""Progress of the turns being generated, for the chat page's "writing replies... 9 of 16".

Why in memory: progress is a few numbers that matter only while a person waits, and the
turn's POST and the page's progress polls reach the same web process (one process on one
machine; behind a proxy with several web workers a poll may reach another process and
then simply reads "unknown", and the page keeps its generic waiting message). Nothing
here is written to the store: the turn itself is committed in one transaction when done.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from redline.targets.progress import ProgressCallback

#: Entries older than this are forgotten (a turn never takes this long: the backends'
#: deadlines are shorter).
KEEP_S = 600.0

TurnKey = tuple[int, int, str]  # (person id, attempt id, the form's idempotency key)


@dataclass(frozen=True)
class TurnProgress:
    stage: str  # "queued", "writing", "choosing"
    done: int
    total: int

    def as_json(self) -> dict[str, object]:
        return {"stage": self.stage, "done": self.done, "total": self.total}


class ProgressBoard:
    """Latest progress per turn being generated; thread-safe (the model worker's reader
    thread writes, request threads read)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._entries: dict[TurnKey, tuple[float, TurnProgress]] = {}

    def callback(self, key: TurnKey) -> ProgressCallback:
        """What the model layers call while this turn is generated."""

        def report(stage: str, done: int, total: int) -> None:
            with self._lock:
                self._entries[key] = (time.monotonic(), TurnProgress(stage, done, total))

        return report

    def get(self, key: TurnKey) -> TurnProgress | None:
        with self._lock:
            found = self._entries.get(key)
        return found[1] if found else None

    def forget(self, key: TurnKey) -> None:
        now = time.monotonic()
        with self._lock:
            self._entries.pop(key, None)
            for old in [k for k, (at, _) in self._entries.items() if now - at > KEEP_S]:
                del self._entries[old]


#: The web process's board (routes share it; see the module doc for several processes).
BOARD = ProgressBoard()
