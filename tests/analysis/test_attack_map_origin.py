"""The attack map by origin: people against replays and each automated strategy."""

from __future__ import annotations

import numpy as np
import pandas as pd

from redline.analysis import figures as figs
from redline.analysis.frame import attack_origins, attempts_frame
from redline.analysis.interactive import hover_text
from redline.analysis.sections.attack_map import by_origin
from redline.attack.persist import write_results
from redline.attack.results import CandidateResult, ConversationResult, TurnResult
from redline.store import Store
from redline.store.models import Origin
from redline.testing import ScriptedTargets
from redline.vocabulary import UNRECORDED_STRATEGY


def test_origins_name_people_replays_and_each_strategy() -> None:
    frame = pd.DataFrame(
        {
            "origin": ["human", "imported", "replay", "automated", "automated", Origin.HUMAN],
            "strategy": [None, None, None, "pair", None, None],
        }
    )
    assert attack_origins(frame).tolist() == [
        "human",
        "human",
        "replay",
        "pair",
        UNRECORDED_STRATEGY,
        "human",
    ]
    no_column = frame.drop(columns="strategy")
    assert attack_origins(no_column).tolist()[3] == UNRECORDED_STRATEGY


def test_the_frame_reads_an_automated_attempts_strategy(sqlite_store: Store) -> None:
    target = "scripted-1m/plain"

    def result(key: str, extra: dict | None) -> ConversationResult:
        turn = TurnResult("hi", [CandidateResult("hello", None, 0.0)])
        return ConversationResult(key=key, target=target, turns=[turn], extra=extra)

    write_results(
        sqlite_store,
        [result("a", {"strategy": "tap", "node": "", "parent": None}), result("b", None)],
        origin=Origin.AUTOMATED,
        targets={target: ScriptedTargets().info(target)},
    )
    with sqlite_store.session() as session:
        frame = attempts_frame(session)
    assert frame["strategy"].tolist() == ["tap", None]
    assert attack_origins(frame).tolist() == ["tap", UNRECORDED_STRATEGY]


def test_the_origin_map_is_drawn_only_when_there_is_more_than_one_origin() -> None:
    rng = np.random.default_rng(0)
    points = pd.DataFrame(
        {
            "x": rng.normal(size=9),
            "y": rng.normal(size=9),
            "attack_origin": ["human"] * 5 + ["pair"] * 3 + ["<b>tap</b>"],
        }
    )
    assert by_origin(points) == {"human": 5, "pair": 3, "<b>tap</b>": 1}
    assert by_origin(points.assign(attack_origin="human")) is None
    assert by_origin(points.drop(columns="attack_origin")) is None

    fig = figs.attack_map_origin_figure(points, "tfidf-svd")
    labels = [t.get_text() for t in fig.axes[0].get_legend().get_texts()]
    assert labels == ["human (5)", "<b>tap</b> (1)", "pair (3)"]  # people first
    colours = {c.get_label(): c.get_facecolor()[0][:3] for c in fig.axes[0].collections}
    assert np.allclose(colours["human (5)"], [0xBD / 255] * 3)  # people in grey
    assert not np.allclose(colours["pair (3)"], colours["<b>tap</b> (1)"])


def test_the_interactive_map_names_each_points_origin_escaped() -> None:
    row = pd.Series(
        {
            "attempt_id": 7,
            "model_type": "plain lm",
            "size_label": "1M",
            "rating": float("nan"),
            "attack_origin": "<b>pair</b>",
            "transcript": "Human: hi",
        }
    )
    head = hover_text(row).split("<br>")[0]
    assert head == "attempt 7 · plain lm 1M · unrated · &lt;b&gt;pair&lt;/b&gt;"
    rated = row.drop("attack_origin")
    rated["rating"] = 3.0
    assert hover_text(rated).split("<br>")[0].endswith("rating 3")
