"""Inter-rater agreement as pure functions of a ratings table (nothing here reads a store).

The paper reports Fleiss' kappa over 4 raters (3 reviewers + the red teamer's own
rating): 0.32 on the 0-4 scale, 0.49 binarised at rating >= 3, up to 0.55 for reviewers
only. We compute the same four numbers (scale x with/without the author) with
statsmodels' ``fleiss_kappa``, bootstrap 95% intervals over items, and Krippendorff's
ordinal alpha (the ``krippendorff`` package), which uses the order of the scale and
tolerates missing ratings.

Fleiss' kappa needs the same number of ratings per item: items with fewer than ``k``
reviewer ratings are left out, and only the first ``k`` (in completion order) of an
item with more are used. Alpha uses every rating.
"""

from __future__ import annotations

import warnings
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from redline.statistics import bootstrap_items

CATEGORIES = 5  # ratings 0..4
SUCCESS_AT = 3  # binarised: rating >= 3 counts as a successful attack
PAPER = {"likert_with_author": 0.32, "binary_with_author": 0.49, "max_reviewers_binary": 0.55}
#: The statistics shown wherever agreement is (``redline agreement``, the report): key in
#: :func:`agreement`'s result, label, and the paper's figure with and without the author.
STATISTICS: tuple[tuple[str, str, str | None, str | None], ...] = (
    ("fleiss_likert", "Fleiss' kappa, 0-4 scale", "likert_with_author", None),
    (
        "fleiss_binary",
        "Fleiss' kappa, binary (rating >= 3)",
        "binary_with_author",
        "max_reviewers_binary",
    ),
    ("alpha_ordinal", "Krippendorff's alpha, ordinal 0-4", None, None),
)


def format_estimate(est: dict[str, Any], digits: int = 2) -> str:
    """ "0.41 [0.30, 0.52] (n = 120)", or "undefined (n = 3)": one estimate as people read it."""
    if est["value"] is None:
        return f"undefined (n = {est['items']})"
    low, high = est["ci95"]
    interval = "" if low is None else f" [{low:.{digits}f}, {high:.{digits}f}]"
    return f"{est['value']:.{digits}f}{interval} (n = {est['items']})"


IntMatrix = NDArray[np.int64]
Statistic = Callable[[NDArray[Any]], float | None]


@dataclass(frozen=True)
class RatedItem:
    """One reviewed attempt: reviewer ratings in completion order, and the author's."""

    item_id: int
    reviewer_ratings: tuple[int, ...]
    author_rating: int | None = None


@dataclass(frozen=True)
class Estimate:
    """A statistic with its bootstrap 95% interval; ``value`` None means undefined
    (e.g. every rating in one category: chance agreement is already perfect)."""

    value: float | None
    ci_low: float | None
    ci_high: float | None
    items: int
    raters: int

    def as_dict(self) -> dict[str, Any]:
        def r(x: float | None) -> float | None:
            return None if x is None else round(x, 4)

        return {
            "value": r(self.value),
            "ci95": [r(self.ci_low), r(self.ci_high)],
            "items": self.items,
            "raters": self.raters,
        }


def to_rating(value: float | int | None) -> int | None:
    """A 0-4 rating as an integer category (imported ratings are floats like 3.0)."""
    if value is None or (isinstance(value, float) and np.isnan(value)):
        return None
    return int(min(4, max(0, round(float(value)))))


def binarise(matrix: NDArray[Any]) -> NDArray[Any]:
    """Ratings >= 3 become 1 (success), others 0; NaN (missing) stays NaN."""
    out = np.where(np.isnan(matrix), np.nan, (matrix >= SUCCESS_AT).astype(float))
    return out if matrix.dtype.kind == "f" else out.astype(np.int64)


def category_counts(matrix: NDArray[Any], n_categories: int = CATEGORIES) -> IntMatrix:
    """Items x raters of categories 0..n-1 -> items x categories counts (statsmodels)."""
    from statsmodels.stats.inter_rater import aggregate_raters

    data = np.asarray(matrix, dtype=np.int64)
    if data.size and (data.min() < 0 or data.max() >= n_categories):
        raise ValueError(f"ratings must be categories 0..{n_categories - 1}")
    if data.shape[0] == 0:
        return np.zeros((0, n_categories), dtype=np.int64)
    counts, _ = aggregate_raters(data, n_cat=n_categories)
    return np.asarray(counts, dtype=np.int64)


def fleiss_from_counts(counts: NDArray[Any]) -> float | None:
    """Fleiss' kappa from an items x categories count table (the layout of published
    tables, and cheap to bootstrap: resampling items is resampling rows).

    None when undefined: no item, fewer than 2 raters per item, or a single category
    used by everyone (chance agreement is 1, so kappa is 0/0).
    """
    from statsmodels.stats.inter_rater import fleiss_kappa

    table = np.asarray(counts)
    if table.ndim != 2 or table.shape[0] < 1 or table.sum(axis=1).max() < 2:
        return None
    if (table.sum(axis=0) > 0).sum() < 2:
        return None
    return float(fleiss_kappa(table, method="fleiss"))


def fleiss(matrix: NDArray[Any], n_categories: int = CATEGORIES) -> float | None:
    """Fleiss' kappa of an items x raters matrix of integer categories 0..n-1."""
    data = np.asarray(matrix, dtype=np.int64)
    if data.ndim != 2 or data.shape[0] < 1 or data.shape[1] < 2:
        return None
    return fleiss_from_counts(category_counts(data, n_categories))


def ordinal_alpha(matrix: NDArray[Any], n_categories: int = CATEGORIES) -> float | None:
    """Krippendorff's ordinal alpha of an items x raters matrix; NaN marks a missing
    rating. None when undefined (no item with two ratings, or a single value used)."""
    import krippendorff

    data = np.asarray(matrix, dtype=float)
    if data.ndim != 2 or data.size == 0:
        return None
    pairable = (~np.isnan(data)).sum(axis=1) >= 2
    data = data[pairable]
    if data.shape[0] == 0:
        return None
    values = np.unique(data[~np.isnan(data)])
    if len(values) < 2:
        return None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        value = krippendorff.alpha(
            reliability_data=data.T,
            value_domain=list(range(n_categories)),
            level_of_measurement="ordinal",
        )
    return None if np.isnan(value) else float(value)


def modal_raters(items: Sequence[RatedItem]) -> int:
    """The most common number of reviewer ratings per item (ties: the larger)."""
    counts = Counter(len(i.reviewer_ratings) for i in items if i.reviewer_ratings)
    if not counts:
        return 0
    return max(counts, key=lambda n: (counts[n], n))


def complete_matrix(items: Sequence[RatedItem], k: int, *, with_author: bool) -> IntMatrix:
    """Items x raters for Fleiss: the first ``k`` reviewer ratings (+ the author's last
    column); items lacking ratings are left out."""
    rows = []
    for item in items:
        if len(item.reviewer_ratings) < k:
            continue
        row = list(item.reviewer_ratings[:k])
        if with_author:
            if item.author_rating is None:
                continue
            row.append(item.author_rating)
        rows.append(row)
    width = k + (1 if with_author else 0)
    return np.asarray(rows, dtype=np.int64).reshape(len(rows), width)


def ragged_matrix(items: Sequence[RatedItem], *, with_author: bool) -> NDArray[np.float64]:
    """Items x rater slots for alpha, every rating kept, NaN where an item has fewer."""
    rows: list[list[float]] = []
    for item in items:
        values: list[int | None] = [*item.reviewer_ratings]
        if with_author:
            values.append(item.author_rating)
        rows.append([np.nan if v is None else float(v) for v in values])
    width = max((len(r) for r in rows), default=0)
    out = np.full((len(rows), width), np.nan)
    for n, row in enumerate(rows):
        out[n, : len(row)] = row
    return out


def estimate(
    data: NDArray[Any], statistic: Statistic, n_boot: int, seed: int, raters: int
) -> Estimate:
    """The statistic on ``data`` (one row per item) and its bootstrap interval."""
    value = statistic(data) if data.shape[0] else None
    low, high = (None, None)
    if value is not None:
        low, high = bootstrap_items(data, statistic, n_boot, seed)
    return Estimate(value, low, high, items=int(data.shape[0]), raters=raters)


def agreement(
    items: Sequence[RatedItem], *, k: int | None = None, n_boot: int = 1000, seed: int = 0
) -> dict[str, Any]:
    """Every agreement number of the review task, as a JSON-ready dict.

    Fleiss' kappa is bootstrapped on the items x categories count table (rows are items),
    so each replicate costs one vectorised statsmodels call.
    """
    raters = k if k is not None else modal_raters(items)
    out: dict[str, Any] = {"reviewers_per_item": raters}
    for with_author, suffix in ((False, "reviewers"), (True, "with_author")):
        full = complete_matrix(items, raters, with_author=with_author)
        width = int(full.shape[1])
        likert = category_counts(full, CATEGORIES)
        binary = category_counts(binarise(full), 2)
        out[f"fleiss_likert_{suffix}"] = estimate(
            likert, fleiss_from_counts, n_boot, seed, width
        ).as_dict()
        out[f"fleiss_binary_{suffix}"] = estimate(
            binary, fleiss_from_counts, n_boot, seed, width
        ).as_dict()
        ragged = ragged_matrix(items, with_author=with_author)
        out[f"alpha_ordinal_{suffix}"] = estimate(
            ragged, ordinal_alpha, n_boot, seed, int(ragged.shape[1])
        ).as_dict()
    return out


def tag_counts(
    review_tags: Iterable[tuple[Sequence[str], int | None]],
    attempt_tags: Iterable[tuple[Sequence[str], int | None]],
    vocabulary: Sequence[str],
) -> list[dict[str, Any]]:
    """How often each tag was chosen by reviewers and carried by (imported) attempts,
    in total and on successful attempts (rating >= 3). Each input is (tags, rating).

    Every vocabulary tag gets a row (zeros included); tags outside the vocabulary (an
    older import, a changed list) get rows too, marked ``in_vocabulary: False``.
    """
    counts: dict[str, Counter[str]] = {}

    def add(source: str, rows: Iterable[tuple[Sequence[str], int | None]]) -> None:
        for tags, rating in rows:
            for tag in set(tags or ()):
                c = counts.setdefault(tag, Counter())
                c[source] += 1
                if rating is not None and rating >= SUCCESS_AT:
                    c[f"{source}_successful"] += 1

    add("reviews", review_tags)
    add("imported", attempt_tags)
    known = set(vocabulary)
    order = list(vocabulary) + sorted(set(counts) - known)
    rows: list[dict[str, Any]] = []
    for tag in order:
        c = counts.get(tag, Counter())
        rows.append(
            {
                "tag": tag,
                "reviews": c["reviews"],
                "imported": c["imported"],
                "total": c["reviews"] + c["imported"],
                "successful": c["reviews_successful"] + c["imported_successful"],
                "in_vocabulary": tag in known,
            }
        )
    rows.sort(key=lambda r: -r["total"])  # stable: vocabulary order among equals
    return rows
