"""``redline stats`` reads Table 1 through SQL (:mod:`redline.analysis.cells`); the report
through pandas (:func:`redline.analysis.tables.cell_summary`). Both must agree exactly."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from tests.support.synthetic import write_synthetic

from redline.analysis.cells import table_one
from redline.analysis.frame import attempts_frame
from redline.analysis.tables import cell_summary, counts
from redline.datasets import import_file
from redline.store import Store


def _same(a: float | None, b: float) -> bool:
    return (a is None and math.isnan(b)) or (a is not None and math.isclose(a, b, rel_tol=1e-9))


@pytest.mark.parametrize("source", ["sample", "synthetic"])
def test_sql_and_pandas_table_one_agree(
    store: Store, source: str, red_team_sample: Path, harmless_pairs: Path, tmp_path: Path
) -> None:
    if source == "sample":
        import_file(store, red_team_sample)
        import_file(store, harmless_pairs)  # records without a target: counted apart
    else:
        path = tmp_path / "synthetic.json"
        write_synthetic(path, 600, 7)
        import_file(store, path)
    with store.session() as session:
        fast = table_one(session)
        frame = attempts_frame(session)
    slow = cell_summary(frame)
    assert len(fast.cells) == len(slow) > 0
    for cell, row in zip(fast.cells, slow.itertuples(), strict=True):
        assert (cell.model_type, cell.num_params, cell.size_label, cell.n, cell.n_scored) == (
            row.model_type,
            row.num_params,
            row.size_label,
            row.n,
            row.n_scored,
        )
        assert _same(cell.mean_rating, row.mean_rating)
        assert _same(cell.mean_min_harmlessness, row.mean_min_harmlessness)
    reference = counts(frame)
    assert fast.origins == {str(k): v for k, v in reference["origins"].items()}
    assert fast.without_target == reference["n_other"]
    assert fast.without_target == (1600 if source == "sample" else 0)
