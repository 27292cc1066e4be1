"""Tag frequencies: how often each harm tag occurs among all attempts and among the
successful ones (rating >= 3), overall and per model type.

Shares are over all attempts of the group (tagged or not), because untagged attempts
are the norm (about 2% of the published attempts carry tags); ``n_tagged`` says how
many attempts the shares really rest on.
"""

from __future__ import annotations

import pandas as pd

from redline.analysis.ordering import SUCCESS_THRESHOLD, model_type_order

TAG_COLUMNS = [
    "model_type",
    "tag",
    "n_all",
    "share_all",
    "n_successful",
    "share_successful",
    "n_attempts",
    "n_attempts_successful",
    "n_tagged",
]


def _one_group(label: str, group: pd.DataFrame) -> list[dict[str, object]]:
    success = group["rating"] >= SUCCESS_THRESHOLD
    exploded = group.assign(_success=success)[["tags", "_success"]].explode("tags")
    exploded = exploded.dropna(subset=["tags"])
    n_all, n_ok = len(group), int(success.sum())
    rows = []
    for tag, tagged in exploded.groupby("tags"):
        count = tagged.index.nunique()  # an attempt counts once even if a tag repeats
        count_ok = tagged.loc[tagged["_success"]].index.nunique()
        rows.append(
            {
                "model_type": label,
                "tag": tag,
                "n_all": count,
                "share_all": count / n_all if n_all else float("nan"),
                "n_successful": count_ok,
                "share_successful": count_ok / n_ok if n_ok else float("nan"),
                "n_attempts": n_all,
                "n_attempts_successful": n_ok,
                "n_tagged": int(group["tags"].map(lambda t: bool(t)).sum()),
            }
        )
    return rows


def tag_frequencies(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows for "all" model types, then each model type; most frequent tags first."""
    frame = frame.reset_index(drop=True)
    rows = _one_group("all", frame)
    for model_type in model_type_order(frame["model_type"]):
        rows += _one_group(model_type, frame[frame["model_type"] == model_type])
    table = pd.DataFrame(rows, columns=TAG_COLUMNS)
    if table.empty:
        return table
    order = {label: i for i, label in enumerate(["all", *model_type_order(frame["model_type"])])}
    table["_o"] = table["model_type"].map(order)
    table = table.sort_values(["_o", "n_all", "tag"], ascending=[True, False, True])
    return table.drop(columns="_o").reset_index(drop=True)
