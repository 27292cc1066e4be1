"""Fixtures for attack tests: runtimes over scripted targets and the keyword scorer."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from tests.support.keyword_scorer import KeywordScorer

from redline.attack.runtime import Runtime, clear_cache
from redline.errors import BackendError
from redline.targets.base import Conversation, Sample, TargetInfo, TargetModel
from redline.targets.scripted import ScriptedTarget
from redline.testing import ScriptedTargets


@pytest.fixture(autouse=True)
def _fresh_cache() -> Iterator[None]:
    clear_cache()
    yield
    clear_cache()


@pytest.fixture
def runtime() -> Runtime:
    return Runtime(targets=ScriptedTargets(), scorer=KeywordScorer(), candidates=2)


@pytest.fixture
def red_team_file(red_team_sample_jsonl: Path) -> Path:
    return red_team_sample_jsonl


@pytest.fixture
def pairs_file(harmless_pairs: Path) -> Path:
    return harmless_pairs


class _FlakyTarget(ScriptedTarget):
    def __init__(self, info: TargetInfo, fail_prefixes: tuple[str, ...]) -> None:
        super().__init__(info)
        self.fail_prefixes = fail_prefixes

    def reply(
        self, conversation: Conversation, n: int = 2, seed: int | None = None
    ) -> list[Sample]:
        if conversation[-1].text.startswith(self.fail_prefixes):
            raise BackendError("flaky backend (the test asked for it)")
        return super().reply(conversation, n, seed)


@dataclass(frozen=True)
class FlakyTargets(ScriptedTargets):
    """Scripted targets that fail on human messages starting with given prefixes."""

    fail_prefixes: tuple[str, ...] = ()

    def __call__(self, name: str) -> TargetModel:
        return _FlakyTarget(self.info(name), self.fail_prefixes)
