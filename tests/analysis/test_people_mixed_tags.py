"""People, mixed models and tags against independent computations."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from redline.analysis.mixed import ModelError, confound_model, design, member_efficacy
from redline.analysis.people import attempts_per_person, concentration
from redline.analysis.tags import tag_frequencies


def test_attempts_per_person_and_concentration(frame_2k: pd.DataFrame) -> None:
    table = attempts_per_person(frame_2k)
    counts = frame_2k["member"].value_counts()
    assert table["n"].sum() == len(frame_2k)
    assert dict(zip(table["member"], table["n"], strict=True)) == counts.to_dict()
    assert table["n"].is_monotonic_decreasing
    conc = concentration(table, 0.8)
    sorted_counts = np.sort(counts.to_numpy())[::-1]
    k = next(
        i + 1
        for i in range(len(sorted_counts))
        if sorted_counts[: i + 1].sum() >= 0.8 * len(frame_2k)
    )
    assert conc.people == k and conc.total_people == len(counts)
    assert "80% of attacks" in conc.sentence()


def test_random_intercepts_equal_closed_form_blups(frame_2k: pd.DataFrame) -> None:
    result = member_efficacy(frame_2k)
    effects = result.random_effects.set_index("member")
    # Independent computation: for a random-intercept model, the BLUP of person j is
    # s_u^2 / (s_u^2 + s^2 / n_j) x mean residual of j, with conditional variance
    # 1 / (1 / s_u^2 + n_j / s^2), given the fitted fixed effects and variances.
    x = design(frame_2k, covariates=False)
    beta = result.coefficients["coef"].to_numpy()
    resid = frame_2k["min_harmlessness"].to_numpy() - x.to_numpy() @ beta
    su2, s2 = result.group_variance, result.residual_variance
    by = pd.Series(resid).groupby(frame_2k["member"].to_numpy())
    for member, values in list(by)[:40]:
        n = len(values)
        blup = su2 / (su2 + s2 / n) * values.mean()
        var = 1 / (1 / su2 + n / s2)
        assert effects.loc[member, "random_intercept"] == pytest.approx(blup, abs=1e-6)
        assert effects.loc[member, "se"] == pytest.approx(np.sqrt(var), rel=1e-4)
    assert result.group_variance > 0.05  # the synthetic data has a person effect


def test_confound_fixed_effects_equal_gls(frame_2k: pd.DataFrame) -> None:
    result = confound_model(frame_2k)
    x = design(frame_2k, covariates=True).to_numpy()
    y = frame_2k["min_harmlessness"].to_numpy()
    groups = frame_2k["member"].to_numpy()
    su2, s2 = result.group_variance, result.residual_variance
    # GLS with V = s2 I + su2 J per person, inverted per block (independent of statsmodels)
    xtvx = np.zeros((x.shape[1], x.shape[1]))
    xtvy = np.zeros(x.shape[1])
    for g in np.unique(groups):
        m = groups == g
        n = m.sum()
        vinv = (np.eye(n) - su2 / (s2 + n * su2) * np.ones((n, n))) / s2
        xtvx += x[m].T @ vinv @ x[m]
        xtvy += x[m].T @ vinv @ y[m]
    beta = np.linalg.solve(xtvx, xtvy)
    np.testing.assert_allclose(result.coefficients["coef"], beta, atol=1e-4)
    se = np.sqrt(np.diag(np.linalg.inv(xtvx)))
    np.testing.assert_allclose(result.coefficients["se"], se, rtol=0.02)
    terms = set(result.coefficients["term"])
    assert {"task-description score", "pool: upwork", "model type: rlhf", "rlhf x 52B"} <= terms
    pool = result.coefficients.set_index("term").loc["pool: upwork"]
    assert pool["hi"] < 0  # upworkers' conversations were more harmful (built into the data)


def test_one_person_is_a_clear_error(frame_2k: pd.DataFrame) -> None:
    with pytest.raises(ModelError, match="at least 2 people"):
        member_efficacy(frame_2k.assign(member=1))


def test_tag_frequencies_against_a_loop() -> None:
    frame = pd.DataFrame(
        {
            "attempt_id": range(6),
            "model_type": ["rlhf", "rlhf", "plain lm", "plain lm", "plain lm", "rlhf"],
            "rating": [4.0, 0.0, 3.0, 1.0, 4.0, 2.0],
            "tags": [["Theft"], ["Theft", "Weapons"], None, ["Theft"], ["Weapons"], []],
        }
    )
    table = tag_frequencies(frame).set_index(["model_type", "tag"])
    assert table.loc[("all", "Theft"), "n_all"] == 3
    assert table.loc[("all", "Theft"), "share_all"] == pytest.approx(3 / 6)
    assert table.loc[("all", "Theft"), "n_successful"] == 1
    assert table.loc[("all", "Theft"), "share_successful"] == pytest.approx(1 / 3)
    assert table.loc[("rlhf", "Weapons"), "n_all"] == 1
    assert table.loc[("plain lm", "Weapons"), "share_successful"] == pytest.approx(1 / 2)
    assert table.loc[("all", "Theft"), "n_tagged"] == 4
