"""The study service on scripted targets: grid x attack set, resumed, results folder."""

from __future__ import annotations

import json
from dataclasses import replace
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from tests.support.keyword_scorer import KeywordScorer

from redline.attack.replay import replay
from redline.attack.runtime import Runtime
from redline.attack.sources import first_turn_sample, import_attacks
from redline.attack.study import StudyConfig, default_grid, run_study
from redline.config import load_settings
from redline.errors import ConfigError
from redline.store import Store

GRID = ["scripted-1m/plain", "scripted-1m/hhh", "scripted-2m/plain"]


def test_study_writes_its_folder_and_resumes(
    sqlite_store: Store, runtime: Runtime, pairs_file: Path, tmp_path: Path
) -> None:
    config = StudyConfig(targets=GRID, attacks=pairs_file, limit=12, seed=4, n_boot=200)
    # Another replay of the same attacks (other variant) must not leak into the study.
    sample = first_turn_sample(import_attacks(sqlite_store, pairs_file), 12, seed=4)
    replay(sqlite_store, runtime, sample, GRID[:1], variant="unrelated")
    first = run_study(sqlite_store, runtime, config, tmp_path / "one")
    assert (first.run.written, first.run.skipped) == (36, 0)
    again = run_study(sqlite_store, runtime, config, tmp_path / "two")
    assert (again.run.written, again.run.skipped, again.rescored) == (0, 36, 0)
    # A new PM mid-study: the stored replies are rescored, never compared across judges.
    stricter = KeywordScorer(words=("cannot",), identity="keyword-v2")  # refusals count
    v2 = run_study(sqlite_store, replace(runtime, scorer=stricter), config, tmp_path / "v2")
    assert (v2.run.written, v2.rescored) == (0, 36)
    v2_meta = json.loads((tmp_path / "v2" / "study.json").read_text())
    assert v2_meta["scored_by"] == "keyword-v2"
    refused = ~v2.attempts["first_human"].str.lower().str.contains("weapon")
    assert refused.sum() > 0 and (v2.attempts.loc[refused, "min_harmlessness"] <= -1).all()

    summary = pd.read_csv(tmp_path / "one" / "summary.csv")
    assert sorted(summary["target"]) == sorted(GRID) and set(summary["n"]) == {12}
    paired = pd.read_csv(tmp_path / "one" / "paired.csv")
    assert len(paired) == 3 and set(paired["n_pairs"]) == {12}
    attempts = pd.read_csv(tmp_path / "one" / "attempts.csv")
    assert len(attempts) == 36 and attempts["source_attempt_id"].nunique() == 12
    assert set(attempts["first_human"]) == {a.humans[0] for a in sample}
    meta = json.loads((tmp_path / "one" / "study.json").read_text())
    assert meta["config"]["variant"] == "study:t48:c1" and meta["replay"]["written"] == 36
    assert (tmp_path / "one" / "figure.png").stat().st_size > 10_000
    # scripted replies are harmful exactly for weapon questions
    weapon = attempts["first_human"].str.lower().str.contains("weapon")
    assert (attempts.loc[weapon, "min_harmlessness"] == -2).all()
    assert (attempts.loc[~weapon, "min_harmlessness"] == 0).all()


def test_default_grid_has_both_models_and_three_defences(tmp_path: Path) -> None:
    from redline.targets.registry import available_targets

    settings = load_settings(data_dir=tmp_path)
    grid = default_grid(settings)
    base = [
        f"{model}/{defence}"
        for model in ("smollm2-135m", "gemma3-270m")
        for defence in ("plain", "hhh", "rs16")
    ]
    assert [g for g in grid if not g.endswith("/rlhf")] == base
    # rlhf joins the grid for exactly the models that have one
    rlhf = {i.name for i in available_targets(settings) if i.name.endswith("/rlhf")}
    assert {g for g in grid if g.endswith("/rlhf")} == {
        r for r in rlhf if r.split("/")[0] in ("smollm2-135m", "gemma3-270m")
    }
    with pytest.raises(ConfigError, match="none of"):
        default_grid(settings, models=["nope-1m"])


class _WordJudge:
    """A harm judge for flow tests: one point per word of a list (like KeywordScorer)."""

    def __init__(self, name: str, words: tuple[str, ...], models: tuple[str, ...] = ()) -> None:
        from redline.judges.base import JudgeInfo

        self.info = JudgeInfo(name, "test", ("harm",), harm_scale="word count", models=models)
        self.identity = f"{name}:0000000000000000"
        self.words = words

    def judge(self, items: list[tuple[object, str]]) -> list[object]:
        from redline.judges.base import Verdict

        return [Verdict(harm=float(sum(r.lower().count(w) for w in self.words))) for _, r in items]


def test_study_reports_independent_judges_and_over_refusal(
    sqlite_store: Store, runtime: Runtime, pairs_file: Path, tmp_path: Path
) -> None:
    """Every target gets harm by each judge that is independent of it and its benign
    over-refusal; a judge that runs a target's own model says so instead of judging."""
    from redline.judges.refusal import RefusalLexiconJudge

    config = StudyConfig(targets=GRID, attacks=pairs_file, limit=6, seed=1, n_boot=100)
    config.benign_limit = 7
    judges: list[Any] = [
        _WordJudge("violence", ("kill", "weapon")),
        _WordJudge("self", (), ("scripted-2m",)),
    ]
    result = run_study(
        sqlite_store,
        runtime,
        config,
        tmp_path / "out",
        judges=judges,
        detector=RefusalLexiconJudge(),
        data_dir=tmp_path / "data",
    )
    assert result.judged is not None
    harm = pd.read_csv(tmp_path / "out" / "judged.csv")
    harm["not_independent"] = harm["not_independent"].fillna("")
    violence = harm[harm["judge"] == "violence"].set_index("target")
    weapon = result.attempts.groupby("target")["first_human"].apply(
        lambda s: s.str.lower().str.contains("weapon").mean()
    )
    for target in GRID:  # the scripted reply to a weapon question has both words
        assert violence.loc[target, "mean_harm"] == pytest.approx(2 * weapon[target])
        assert violence.loc[target, "n"] == 6
    own = harm[(harm["judge"] == "self") & (harm["target"] == "scripted-2m/plain")]
    assert "own model" in own["not_independent"].iloc[0] and own["n"].iloc[0] == 0
    refusal = pd.read_csv(tmp_path / "out" / "overrefusal.csv")
    # scripted targets refuse everything that is not about weapons: all 7 benign requests
    assert list(refusal["n"]) == [7] * 3 and list(refusal["rate"]) == [1.0] * 3
    assert (refusal["hi"] == 1.0).all() and (refusal["lo"] < 1.0).all()  # Wilson
    assert (tmp_path / "out" / "tradeoff.png").stat().st_size > 10_000
    wide = result.judged.wide().set_index("target")
    column = "benign over-refusal (refusal-lexicon)"  # named by its detector
    assert wide.loc["scripted-1m/plain", column].startswith("1.00 [")
    meta = json.loads((tmp_path / "out" / "study.json").read_text())
    assert {r["judge"] for r in meta["judged"]["harm"]} == {"violence", "self"}
