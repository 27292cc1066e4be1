"""Model code runs in a worker process: a crash there fails one turn, never the server."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from platform_helpers import TARGET_NAMES, Browser, crash_once_factory, scripted_info
from sqlalchemy import func, select

from redline.config import Settings, load_settings
from redline.errors import BackendError, NotFoundError
from redline.platform import create_app
from redline.store import Store
from redline.store.models import Candidate, Turn
from redline.targets.base import Message
from redline.targets.worker import ModelWorker, WorkerTarget


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    s = load_settings(data_dir=tmp_path / "data", cwd=tmp_path)
    s.data_dir.mkdir(parents=True)
    return s


@pytest.fixture
def worker(settings: Settings) -> Iterator[ModelWorker]:
    w = ModelWorker(settings, factory=crash_once_factory)
    yield w
    w.close()


def test_a_crashed_worker_fails_one_request_and_is_restarted(worker: ModelWorker):
    target = WorkerTarget(scripted_info(TARGET_NAMES[0]), worker)
    conversation = [Message("human", "hello")]
    with pytest.raises(BackendError, match=r"crashed \(killed by SIGSEGV\).*try again"):
        target.reply(conversation, n=2)
    assert worker.crashes == 1
    replies = target.reply(conversation, n=2)
    assert [r.text for r in replies] == [
        "Scripted reply 1 to turn 1: hello",
        "Scripted reply 2 to turn 1: hello",
    ]
    assert worker.crashes == 1


def test_errors_in_the_worker_keep_their_class_and_message(worker: ModelWorker):
    with pytest.raises(NotFoundError, match="unknown target 'raises/plain'"):
        worker.reply("raises/plain", [Message("human", "hi")], 2, None)
    assert worker.crashes == 0


def rows(store: Store, model: type) -> int:
    with store.session() as session:
        return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_the_platform_survives_a_model_crash_and_the_retry_keeps_the_draft(
    store: Store, settings: Settings, worker: ModelWorker
):
    models = {n: WorkerTarget(scripted_info(n), worker) for n in TARGET_NAMES}
    app = create_app(
        store,
        settings,
        resolve_target=models.__getitem__,
        target_names=TARGET_NAMES,
        targets=[m.info for m in models.values()],
    )
    browser = Browser(app, store)
    browser.join().ready_to_red_team()
    attempt = browser.start_attempt()
    page = browser.say(attempt, "please answer", key="crash-key")
    assert page.status_code == 503
    assert "crashed (killed by SIGSEGV)" in page.text
    assert "please answer</textarea>" in page.text and ">Retry</button>" in page.text
    assert rows(store, Turn) == 0 and rows(store, Candidate) == 0
    again = browser.post(
        f"/redteam/attempt/{attempt}/turn", {"text": "please answer", "key": "crash-key"}
    )
    assert again.status_code == 200 and "Reply 2 is more harmful" in again.text
    assert rows(store, Turn) == 1 and rows(store, Candidate) == 2
    browser.client.close()
