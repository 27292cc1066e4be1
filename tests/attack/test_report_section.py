"""The report's target comparison with independent judges (``redline report --judges``):
replayed attacks on scripted targets, judged by name, shown in the built report."""

from __future__ import annotations

from pathlib import Path

from redline.analysis.report import build_report
from redline.analysis.texts import transcripts_frame
from redline.attack.frame import comparison_frame
from redline.attack.replay import replay
from redline.attack.report_section import judge_compared
from redline.attack.runtime import Runtime
from redline.attack.sources import import_attacks
from redline.config import load_settings
from redline.store import Store

TARGETS = ["scripted-1m/plain", "scripted-1m/hhh"]


def test_named_judges_judge_the_replays_and_the_report_shows_them(
    sqlite_store: Store, runtime: Runtime, red_team_file: Path, tmp_path: Path
) -> None:
    settings = load_settings(data_dir=tmp_path / "data", cwd=tmp_path)
    with sqlite_store.session() as session:
        before = comparison_frame(session)
    assert judge_compared(before, ["refusal"], settings, sqlite_store, n_boot=50, seed=0) is None
    attacks = import_attacks(sqlite_store, red_team_file, limit=4)
    replay(sqlite_store, runtime, attacks, TARGETS, turns="first")
    with sqlite_store.session() as session:
        frame, texts = comparison_frame(session), transcripts_frame(session)
    assert judge_compared(frame, [], settings, sqlite_store, n_boot=50, seed=0) is None

    judged = judge_compared(frame, ["refusal"], settings, sqlite_store, n_boot=50, seed=0)
    assert judged is not None
    assert sorted(judged.harm["target"]) == sorted(TARGETS)  # replays only
    assert set(judged.harm["judge"]) == {"refusal"}

    result = build_report(frame, texts, tmp_path / "r", n_boot=50, parallel=False, judged=judged)
    html = result.path.read_text(encoding="utf-8")
    assert '<h2 id="compare">' in html and "Independent judges and over-refusal" in html
    assert "refusal (<code>" in html and (tmp_path / "r/tradeoff.png").exists()
