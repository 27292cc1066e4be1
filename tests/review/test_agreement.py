"""Agreement statistics against published worked examples and edge cases."""

from __future__ import annotations

import math

import krippendorff
import numpy as np
import pytest

from redline.review.agreement import (
    RatedItem,
    agreement,
    binarise,
    category_counts,
    complete_matrix,
    fleiss,
    fleiss_from_counts,
    modal_raters,
    ordinal_alpha,
    ragged_matrix,
    tag_counts,
    to_rating,
)
from redline.statistics import bootstrap_items as bootstrap

# Wikipedia, "Fleiss' kappa", worked example: 10 subjects, 14 raters, 5 categories;
# the article reports P-bar = 0.378, P-bar_e = 0.213 and kappa = 0.210.
WIKIPEDIA_COUNTS = np.array(
    [
        [0, 0, 0, 0, 14],
        [0, 2, 6, 4, 2],
        [0, 0, 3, 5, 6],
        [0, 3, 9, 2, 0],
        [2, 2, 8, 1, 1],
        [7, 7, 0, 0, 0],
        [3, 2, 6, 3, 0],
        [2, 5, 3, 2, 2],
        [6, 5, 2, 1, 0],
        [0, 2, 2, 3, 7],
    ]
)

# Krippendorff (2011), "Computing Krippendorff's Alpha-Reliability", the example with
# 4 observers, 12 units and missing values; published: nominal 0.743, ordinal 0.815,
# interval 0.849. Values 1..5 there; here shifted to our 0..4 scale.
NAN = math.nan
KRIPPENDORFF_OBSERVERS = np.array(
    [
        [1, 2, 3, 3, 2, 1, 4, 1, 2, NAN, NAN, NAN],
        [1, 2, 3, 3, 2, 2, 4, 1, 2, 5, NAN, 3],
        [NAN, 3, 3, 3, 2, 3, 4, 2, 2, 5, 1, NAN],
        [1, 2, 3, 3, 2, 4, 4, 1, 2, 5, 1, NAN],
    ]
)


def _hand_fleiss(counts: np.ndarray) -> float:
    """Fleiss (1971) by hand, independent of statsmodels."""
    n_items, _ = counts.shape
    m = counts.sum(axis=1)[0]
    p_j = counts.sum(axis=0) / (n_items * m)
    p_i = ((counts**2).sum(axis=1) - m) / (m * (m - 1))
    p_bar, p_e = p_i.mean(), (p_j**2).sum()
    return float((p_bar - p_e) / (1 - p_e))


def test_fleiss_matches_the_published_wikipedia_example() -> None:
    assert fleiss_from_counts(WIKIPEDIA_COUNTS) == pytest.approx(0.210, abs=5e-4)
    assert _hand_fleiss(WIKIPEDIA_COUNTS) == pytest.approx(0.210, abs=5e-4)
    # The same table as raw ratings (subjects x 14 raters) goes through our matrix path.
    raw = np.array([np.repeat(np.arange(5), row) for row in WIKIPEDIA_COUNTS])
    np.random.default_rng(0).permuted(raw, axis=1, out=raw)  # rater order must not matter
    assert fleiss(raw) == pytest.approx(fleiss_from_counts(WIKIPEDIA_COUNTS), abs=1e-12)


def test_ordinal_alpha_matches_krippendorffs_published_example() -> None:
    items_by_raters = KRIPPENDORFF_OBSERVERS.T - 1
    assert ordinal_alpha(items_by_raters) == pytest.approx(0.815, abs=5e-4)
    # The unit with a single rating is not pairable and does not change alpha.
    assert ordinal_alpha(items_by_raters[:11]) == pytest.approx(0.815, abs=5e-4)


def test_perfect_agreement_is_one_and_a_single_category_is_undefined() -> None:
    perfect = np.array([[0, 0, 0], [4, 4, 4], [2, 2, 2], [2, 2, 2]])
    assert fleiss(perfect) == pytest.approx(1.0)
    assert ordinal_alpha(perfect.astype(float)) == pytest.approx(1.0)
    one_category = np.full((6, 3), 3)
    assert fleiss(one_category) is None  # chance agreement is 1: kappa is 0/0
    assert ordinal_alpha(one_category.astype(float)) is None
    assert fleiss(binarise(np.array([[3, 4, 3], [4, 4, 3]])), 2) is None  # all "success"


def test_systematic_disagreement_is_negative() -> None:
    split = np.array([[0, 4], [4, 0], [0, 4], [4, 0]])
    assert fleiss(split) == pytest.approx(-1.0)


def test_degenerate_inputs_are_undefined_not_errors() -> None:
    assert fleiss(np.zeros((0, 3), dtype=int)) is None
    assert fleiss(np.array([[1], [2]])) is None  # one rater
    assert ordinal_alpha(np.array([[1.0, NAN], [NAN, 2.0]])) is None  # nothing pairable
    with pytest.raises(ValueError, match=r"0\.\.4"):
        fleiss(np.array([[0, 5], [1, 1]]))


def test_missing_ratings_drop_items_for_fleiss_but_not_for_alpha() -> None:
    items = [
        RatedItem(1, (0, 0, 1), author_rating=0),
        RatedItem(2, (4, 4, 4), author_rating=None),  # author did not rate
        RatedItem(3, (2, 3), author_rating=3),  # one reviewer missing
        RatedItem(4, (3, 3, 4, 1), author_rating=4),  # a fourth (re-assigned) reviewer
    ]
    assert modal_raters(items) == 3
    reviewers = complete_matrix(items, 3, with_author=False)
    assert reviewers.tolist() == [[0, 0, 1], [4, 4, 4], [3, 3, 4]]
    with_author = complete_matrix(items, 3, with_author=True)
    assert with_author.tolist() == [[0, 0, 1, 0], [3, 3, 4, 4]]
    ragged = ragged_matrix(items, with_author=False)
    assert ragged.shape == (4, 4) and np.isnan(ragged[2, 2:]).all()
    expected = krippendorff.alpha(
        reliability_data=ragged.T, value_domain=[0, 1, 2, 3, 4], level_of_measurement="ordinal"
    )
    assert ordinal_alpha(ragged) == pytest.approx(expected)

    report = agreement(items, n_boot=50, seed=1)
    assert report["reviewers_per_item"] == 3
    assert report["fleiss_likert_reviewers"]["items"] == 3
    assert report["fleiss_likert_with_author"]["items"] == 2
    assert report["fleiss_likert_with_author"]["raters"] == 4
    assert report["fleiss_likert_reviewers"]["value"] == pytest.approx(
        _hand_fleiss(category_counts(reviewers)), abs=1e-4
    )
    assert report["alpha_ordinal_reviewers"]["items"] == 4


def test_binarise_at_three() -> None:
    assert binarise(np.array([[0, 1, 2, 3, 4]])).tolist() == [[0, 0, 0, 1, 1]]
    out = binarise(np.array([[2.0, NAN, 3.0]]))
    assert out[0, 0] == 0 and np.isnan(out[0, 1]) and out[0, 2] == 1


def test_imported_float_ratings_become_categories() -> None:
    assert [to_rating(v) for v in (0.0, 3.0, 4.0, None, NAN, 2.4, 7.0)] == [
        0,
        3,
        4,
        None,
        None,
        2,
        4,
    ]


def test_bootstrap_interval_is_seeded_and_covers_the_estimate() -> None:
    rng = np.random.default_rng(7)
    truth = rng.integers(0, 5, size=300)
    noisy = np.clip(truth[:, None] + rng.integers(-1, 2, size=(300, 3)), 0, 4)
    counts = category_counts(noisy)
    value = fleiss_from_counts(counts)
    assert value is not None
    low, high = bootstrap(counts, fleiss_from_counts, 300, seed=3)
    assert low is not None and high is not None
    assert low < value < high and high - low < 0.2
    assert bootstrap(counts, fleiss_from_counts, 300, seed=3) == (low, high)
    assert bootstrap(counts, fleiss_from_counts, 300, seed=4) != (low, high)
    # Bootstrapping count rows is bootstrapping items: one replicate by hand agrees.
    idx = np.random.default_rng(11).integers(0, 300, size=300)
    assert fleiss(noisy[idx]) == pytest.approx(fleiss_from_counts(counts[idx]))


def test_agreement_recovers_a_known_structure() -> None:
    """Reviewers who agree with each other but not with the authors: high reviewer
    kappa, lower kappa once the author's rating joins, as in the paper's pattern."""
    rng = np.random.default_rng(5)
    items = []
    for i in range(400):
        truth = int(rng.integers(0, 5))
        reviewers = tuple(
            truth if rng.random() < 0.8 else int(rng.integers(0, 5)) for _ in range(3)
        )
        items.append(RatedItem(i, reviewers, author_rating=int(rng.integers(0, 5))))
    report = agreement(items, n_boot=100, seed=0)
    r, a = report["fleiss_likert_reviewers"], report["fleiss_likert_with_author"]
    assert 0.55 < r["value"] < 0.8
    assert a["value"] < r["value"] - 0.1
    assert r["ci95"][0] < r["value"] < r["ci95"][1]
    assert report["alpha_ordinal_reviewers"]["value"] > 0.55


def test_tag_counts_merge_reviews_and_imports_and_keep_unknown_tags() -> None:
    vocabulary = ["Theft", "Weapons", "Other"]
    rows = tag_counts(
        [(["Theft", "Weapons"], 3), (["Theft"], 1), ([], 4)],
        [(["Theft"], 4), (["Old tag"], 0), (["Weapons", "Weapons"], 2)],
        vocabulary,
    )
    by_tag = {r["tag"]: r for r in rows}
    assert by_tag["Theft"] == {
        "tag": "Theft",
        "reviews": 2,
        "imported": 1,
        "total": 3,
        "successful": 2,
        "in_vocabulary": True,
    }
    assert by_tag["Weapons"]["total"] == 2  # a tag listed twice on one record counts once
    assert by_tag["Other"]["total"] == 0
    assert by_tag["Old tag"]["in_vocabulary"] is False
    assert [r["tag"] for r in rows][:2] == ["Theft", "Weapons"]
