"""Consistency, not reproduction: the synthetic generator is built to contain the
published cell counts and means (reference_stats.json), so these tests check that Table 1
and the per-cell means computed by the analyses (directly and through the store) agree
with the numbers the generator was given. They cannot show that Redline reproduces the
paper; only the published file itself could."""

from __future__ import annotations

from pathlib import Path

import pytest
from tests.support.synthetic import synthetic_red_team_records, write_synthetic

from redline.analysis.frame import attempts_frame
from redline.analysis.success import attack_success
from redline.analysis.tables import cell_summary
from redline.datasets import import_file
from redline.store import Store


def _check(table, reference: dict) -> None:
    got = {(r.model_type, r.size_label): r for r in table.itertuples()}
    for cell in reference["cells"]:
        row = got[(cell["model_type"], cell["num_params"])]
        assert row.n == cell["n"]
        assert round(row.mean_min_harmlessness, 3) == pytest.approx(cell["mean_min_harmlessness"])


def test_table1_and_cell_means_consistent_with_the_generator(
    reference_stats: dict, make_frame
) -> None:
    frame = make_frame(synthetic_red_team_records(seed=0))
    reference = reference_stats
    _check(cell_summary(frame), reference)
    _check(attack_success(frame, n_boot=100), reference)
    share = (frame["rating"] >= 3).mean()
    assert share == pytest.approx((4249 + 8934) / 38961)


@pytest.mark.slow
def test_consistent_with_the_generator_through_the_store(
    reference_stats: dict, tmp_path: Path
) -> None:
    path = tmp_path / "synthetic.json.gz"
    write_synthetic(path)
    store = Store(f"sqlite:///{tmp_path / 'r.db'}")
    try:
        import_file(store, path)
        with store.session() as session:
            frame = attempts_frame(session)
    finally:
        store.dispose()
    _check(cell_summary(frame), reference_stats)
