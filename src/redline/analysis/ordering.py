"""The order in which model types and sizes appear in every table and figure.

Model types follow the paper (plain LM, prompted, rejection sampling, RLHF), using the
dataset labels; labels the paper does not know (campaign targets) come after, by name.
Sizes are ordered by parameter count, never alphabetically ("13B" < "2.7B" as text).
"""

from __future__ import annotations

import pandas as pd

from redline.datasets.hhrlhf import MODEL_TYPES

SUCCESS_THRESHOLD = 3.0  # a rating >= 3 counts as a successful attack (as in the paper)


def model_type_order(labels: pd.Series | list[str]) -> list[str]:
    """Known labels in the paper's order, then unknown ones alphabetically."""
    present = {str(x) for x in pd.Series(labels).dropna().unique()}
    known = [t for t in MODEL_TYPES if t in present]
    return known + sorted(present - set(MODEL_TYPES))


def sort_cells(table: pd.DataFrame) -> pd.DataFrame:
    """Sort a table with ``model_type`` and ``num_params`` columns into the report order."""
    if table.empty:
        return table.reset_index(drop=True)
    order = {label: i for i, label in enumerate(model_type_order(table["model_type"]))}
    keyed = table.assign(_t=table["model_type"].map(order))
    return keyed.sort_values(["_t", "num_params"]).drop(columns="_t").reset_index(drop=True)


def with_cells(frame: pd.DataFrame) -> pd.DataFrame:
    """Attempts that have a target (model type and size); others cannot enter a cell."""
    return frame.dropna(subset=["model_type", "num_params"])
