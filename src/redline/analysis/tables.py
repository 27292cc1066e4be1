"""Summary tables over the attempts frame (see :mod:`redline.analysis.frame`)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from redline.datasets.hhrlhf import MODEL_TYPES


def cell_summary(frame: pd.DataFrame) -> pd.DataFrame:
    """Attempts per model type x size with mean rating and mean min-harmlessness.

    The shape of the paper's Table 1 and Figure 1. Attempts without a target (e.g.
    imported comparison pairs) are left out. Sizes are ordered by parameter count and
    model types in the paper's order.
    """
    known = frame.dropna(subset=["model_type"])
    if known.empty:
        return pd.DataFrame(
            columns=[
                "model_type",
                "num_params",
                "size_label",
                "n",
                "mean_rating",
                "mean_min_harmlessness",
                "n_scored",
            ]
        )
    grouped = known.groupby(["model_type", "num_params", "size_label"], sort=False)
    table = grouped.agg(
        n=("attempt_id", "size"),
        mean_rating=("rating", "mean"),
        mean_min_harmlessness=("min_harmlessness", "mean"),
        n_scored=("min_harmlessness", "count"),
    ).reset_index()
    order = {label: i for i, label in enumerate(MODEL_TYPES)}
    table["_type_order"] = table["model_type"].map(lambda t: order.get(t, len(order)))
    table = table.sort_values(["_type_order", "num_params", "model_type"]).drop(
        columns="_type_order"
    )
    table["num_params"] = table["num_params"].astype("int64")
    table["n"] = table["n"].astype("int64")
    table["n_scored"] = table["n_scored"].astype("int64")
    return table.reset_index(drop=True)


def counts(frame: pd.DataFrame) -> dict[str, Any]:
    """What the header's numbers count. Red-team attempts are those with a known target
    (Table 1, the number ``redline stats`` counts); records without a target are
    comparison pairs or attempts not yet assigned, listed apart with their origins."""
    if not len(frame):
        return {"n_attempts": 0, "n_people": 0, "origins": {}, "pools": {}, "n_other": 0}
    red = frame[frame["model_type"].notna()]
    other = frame[frame["model_type"].isna()]
    authored = red.dropna(subset=["member"])
    return {
        "n_attempts": len(red),
        "n_people": int(authored["member"].nunique()),
        "origins": red["origin"].value_counts().to_dict(),
        "pools": authored.drop_duplicates("member")["pool"].value_counts().to_dict(),
        "n_other": len(other),
        "other_origins": other["origin"].value_counts().to_dict(),
        "n_other_authored": int(other["member"].notna().sum()),
    }
