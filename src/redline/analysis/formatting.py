"""Numbers and tables as the report shows them: formatted strings, paper names of model
types, dashes for missing values.

Why apart from the report: every report section formats its tables the same way,
including sections that live beside their service (:mod:`redline.attack.report_section`)
or in another package.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

import pandas as pd

from redline.analysis.labels import paper_name

Formatter = Callable[[Any], str]


def fmt(value: Any, digits: int = 3) -> str:
    """A cell as text: thousands separators for counts, ``digits`` decimals for
    measurements, "–" for missing, "yes"/"no" for flags."""
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        if math.isnan(value):
            return "–"
        if value.is_integer() and abs(value) >= 1000:
            return f"{int(value):,}"
        return f"{value:.{digits}f}"
    if hasattr(value, "item"):
        return fmt(value.item(), digits)
    if isinstance(value, list):
        return "; ".join(str(v) for v in value)
    return str(value)


def percent(value: Any) -> str:
    """A share as a percentage with one decimal ("0.2%"), the way readers compare shares."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{100 * float(value):.1f}%"


def integer(value: Any) -> str:
    """A whole number (ratings are 0-4 categories, not measurements: "3", not "3.000")."""
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return f"{round(float(value)):,}"


def table(
    df: pd.DataFrame,
    columns: dict[str, str],
    *,
    limit: int | None = None,
    formats: Mapping[str, Formatter] | None = None,
) -> dict[str, Any]:
    """A table for the template: header labels and rows of formatted strings.

    ``model_type`` cells show the paper's names (:mod:`redline.analysis.labels`);
    ``formats`` overrides the default formatting of named columns.
    """
    shown = df.head(limit) if limit else df
    formatters: dict[str, Formatter] = {"model_type": paper_name, **(formats or {})}
    return {
        "header": list(columns.values()),
        "rows": [
            [formatters.get(c, fmt)(row[c]) for c in columns]
            for row in shown.to_dict(orient="records")
        ],
        "total": len(df),
    }
