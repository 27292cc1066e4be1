"""Linear mixed models of the minimum harmlessness score (statsmodels MixedLM).

Two questions from the paper:

* **Per-person efficacy**: ``min_harmlessness ~ cell + (1 | person)``. Each person's random
  intercept (BLUP) says how much more (negative) or less harmful their conversations were
  than average, after the target they were assigned; the 95% interval uses the conditional
  variance of the BLUP given the fitted variance components.
* **Confound check**: ``min_harmlessness ~ model type x size + task-description score +
  pool + (1 | person)``. If the model-type and size effects survive controlling for how
  harmful the task was and who attacked, the Figure 1 differences are not an artefact of
  which people happened to attack which model.

Design matrices are built here (treatment coding, readable names, reference levels: the
first model type in the paper's order, the smallest size, the largest pool) rather than
through a formula, so the coefficient names in the report are plain words.
"""

from __future__ import annotations

import warnings
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from redline.analysis.ordering import model_type_order
from redline.errors import RedlineError

Z95 = float(stats.norm.ppf(0.975))


class ModelError(RedlineError):
    """The data cannot support the requested model (too few people, one level only...)."""


@dataclass
class MixedResult:
    """A fitted mixed model: coefficient table, variance components, and notes."""

    coefficients: pd.DataFrame
    group_variance: float
    residual_variance: float
    n: int
    n_groups: int
    converged: bool
    notes: list[str] = field(default_factory=list)
    random_effects: pd.DataFrame | None = None


def _cells(data: pd.DataFrame) -> pd.DataFrame:
    """Dummy columns for model type, size and their interaction (treatment coding)."""
    types = model_type_order(data["model_type"])
    sizes = (
        data[["size_label", "num_params"]].drop_duplicates().sort_values("num_params")["size_label"]
    ).tolist()
    cols: dict[str, np.ndarray] = {}
    for t in types[1:]:
        cols[f"model type: {t}"] = (data["model_type"] == t).to_numpy(float)
    for s in sizes[1:]:
        cols[f"size: {s}"] = (data["size_label"] == s).to_numpy(float)
    for t in types[1:]:
        for s in sizes[1:]:
            col = ((data["model_type"] == t) & (data["size_label"] == s)).to_numpy(float)
            if col.any():
                cols[f"{t} x {s}"] = col
    return pd.DataFrame(cols, index=data.index)


def design(data: pd.DataFrame, *, covariates: bool) -> pd.DataFrame:
    """The fixed-effects matrix: intercept, cells and, for the confound check, the
    task-description score and pool."""
    parts = [pd.DataFrame({"intercept": np.ones(len(data))}, index=data.index), _cells(data)]
    if covariates:
        parts.append(
            pd.DataFrame(
                {"task-description score": data["task_description_harmlessness"].to_numpy(float)},
                index=data.index,
            )
        )
        pools = data["pool"].fillna("unknown").value_counts()
        for pool in sorted(pools.index[1:]):
            parts.append(
                pd.DataFrame(
                    {f"pool: {pool}": (data["pool"].fillna("unknown") == pool).to_numpy(float)},
                    index=data.index,
                )
            )
    matrix = pd.concat(parts, axis=1)
    keep = [c for c in matrix.columns if c == "intercept" or matrix[c].std() > 0]
    return matrix[keep]


def _prepare(frame: pd.DataFrame, *, covariates: bool) -> pd.DataFrame:
    needed = ["min_harmlessness", "member", "model_type", "num_params", "size_label"]
    if covariates:
        needed.append("task_description_harmlessness")
    data = frame.dropna(subset=needed)
    if data["member"].nunique() < 2:
        raise ModelError(
            "a mixed model needs scored attempts by at least 2 people; "
            f"found {data['member'].nunique()}"
        )
    return data


def _fit(data: pd.DataFrame, exog: pd.DataFrame) -> tuple[object, bool, list[str]]:
    """Fit by REML. L-BFGS first; when it stops at a degenerate point (non-finite
    likelihood or a zero person variance, which happens on small data) conjugate
    gradients and Nelder-Mead are tried too and the best finite likelihood wins."""
    import statsmodels.api as sm
    from statsmodels.tools.sm_exceptions import ConvergenceWarning

    model = sm.MixedLM(
        data["min_harmlessness"].to_numpy(float), exog, groups=data["member"].to_numpy()
    )
    notes: list[str] = []
    best = None
    for method in ("lbfgs", "cg", "nm"):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                result = model.fit(reml=True, method=method)
            except (np.linalg.LinAlgError, ValueError) as exc:
                notes.append(f"{method}: {exc}")
                continue
        llf = float(result.llf)
        if np.isfinite(llf) and (best is None or llf > float(best.llf) + 1e-9):
            best = result
            fit_notes = [
                str(w.message).splitlines()[0]
                for w in caught
                if issubclass(w.category, ConvergenceWarning)
            ]
        if (
            best is not None
            and bool(best.converged)
            and float(np.asarray(best.cov_re)[0, 0]) > 1e-8
        ):
            break
    if best is None:
        raise ModelError("the mixed model could not be fitted: " + "; ".join(notes))
    return best, bool(best.converged), sorted(set(fit_notes))


def _coefficients(result: object, names: list[str]) -> pd.DataFrame:
    params = np.asarray(result.fe_params)  # type: ignore[attr-defined]
    se = np.asarray(result.bse_fe)  # type: ignore[attr-defined]
    z = params / se
    return pd.DataFrame(
        {
            "term": names,
            "coef": params,
            "se": se,
            "z": z,
            "p": 2 * stats.norm.sf(np.abs(z)),
            "lo": params - Z95 * se,
            "hi": params + Z95 * se,
        }
    )


def member_efficacy(frame: pd.DataFrame) -> MixedResult:
    """Random intercept per person with 95% intervals, most effective (lowest) first."""
    data = _prepare(frame, covariates=False)
    exog = design(data, covariates=False)
    result, converged, notes = _fit(data, exog)
    group_var = float(np.asarray(result.cov_re)[0, 0])  # type: ignore[attr-defined]
    counts = data.groupby("member").size()
    pools = data.groupby("member")["pool"].first()
    if group_var <= 1e-10:  # no person variance: every BLUP is exactly 0
        notes.append("the person variance is estimated as 0: no differences between people")
        blups = {m: np.zeros(1) for m in counts.index}
        cond = {m: np.zeros((1, 1)) for m in counts.index}
    else:
        blups = result.random_effects  # type: ignore[attr-defined]
        cond = result.random_effects_cov  # type: ignore[attr-defined]
    rows = []
    for member, effect in blups.items():
        value = float(np.asarray(effect)[0])
        sd = float(np.sqrt(np.asarray(cond[member])[0, 0]))
        rows.append(
            {
                "member": int(member),
                "pool": pools[member],
                "n": int(counts[member]),
                "random_intercept": value,
                "se": sd,
                "lo": value - Z95 * sd,
                "hi": value + Z95 * sd,
            }
        )
    effects = pd.DataFrame(rows).sort_values("random_intercept", kind="stable")
    return MixedResult(
        coefficients=_coefficients(result, list(exog.columns)),
        group_variance=group_var,
        residual_variance=float(result.scale),  # type: ignore[attr-defined]
        n=len(data),
        n_groups=int(data["member"].nunique()),
        converged=converged,
        notes=notes,
        random_effects=effects.reset_index(drop=True),
    )


def confound_model(frame: pd.DataFrame) -> MixedResult:
    """Model type x size, task-description score and pool as fixed effects; person as a
    random intercept. The coefficient table is what the report prints."""
    data = _prepare(frame, covariates=True)
    exog = design(data, covariates=True)
    result, converged, notes = _fit(data, exog)
    return MixedResult(
        coefficients=_coefficients(result, list(exog.columns)),
        group_variance=float(np.asarray(result.cov_re)[0, 0]),  # type: ignore[attr-defined]
        residual_variance=float(result.scale),  # type: ignore[attr-defined]
        n=len(data),
        n_groups=int(data["member"].nunique()),
        converged=converged,
        notes=notes,
    )
