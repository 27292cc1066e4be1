"""Section 4, continued: per-person efficacy and the confound check (mixed models)."""

from __future__ import annotations

from typing import Any

import pandas as pd

from redline.analysis import figures as figs
from redline.analysis.formatting import fmt, table
from redline.analysis.mixed import ModelError, confound_model, member_efficacy
from redline.analysis.sections.base import Figure, SectionContent, SectionContext

EFFECT_COLUMNS = {
    "member": "member",
    "pool": "pool",
    "n": "n",
    "random_intercept": "intercept",
    "lo": "lo",
    "hi": "hi",
}
# A person variance this small next to the residual variance is the boundary estimate:
# every intercept is shrunk to ~0 and plotting them would show noise as a result.
BOUNDARY = 1e-6


class MixedModelsSection:
    """Random intercepts per person and the model-type effects with controls; no heading
    of its own (title None): it reads as part of "Red teamers"."""

    name = "mixed models"
    title = None
    order = 45
    template = "sections/mixed.html"

    def build(self, context: SectionContext) -> SectionContent:
        values: dict[str, Any] = {"efficacy": None, "confound": None}
        try:
            values["efficacy"] = efficacy(member_efficacy(context.frame), context.figure)
            values["confound"] = confound(confound_model(context.frame))
        except ModelError as exc:
            context.notes.append(f"mixed models skipped: {exc}")
        return SectionContent(values=values)


def efficacy(eff: Any, figure: Figure) -> dict[str, Any]:
    """The per-person model for the template; its figure only when there is an effect."""
    effects = eff.random_effects if eff.random_effects is not None else pd.DataFrame()
    at_boundary = eff.group_variance <= BOUNDARY * max(eff.residual_variance, 1e-12)
    if not at_boundary:
        figure(figs.efficacy_figure(effects), "efficacy")
    return {
        "n": eff.n,
        "groups": eff.n_groups,
        "group_var": fmt(eff.group_variance),
        "resid_var": fmt(eff.residual_variance),
        "no_effect": at_boundary,
        "notes": eff.notes,
        "most": table(effects, EFFECT_COLUMNS, limit=10),
        "least": table(effects.iloc[::-1], EFFECT_COLUMNS, limit=5),
        "n_below": int((effects["hi"] < 0).sum()) if len(effects) and not at_boundary else 0,
        "n_above": int((effects["lo"] > 0).sum()) if len(effects) and not at_boundary else 0,
    }


def confound(conf: Any) -> dict[str, Any]:
    """The confound-check model for the template."""
    return {
        "n": conf.n,
        "groups": conf.n_groups,
        "group_var": fmt(conf.group_variance),
        "resid_var": fmt(conf.residual_variance),
        "notes": conf.notes,
        "coefficients": table(
            conf.coefficients,
            {"term": "term", "coef": "coef", "se": "se", "lo": "lo", "hi": "hi", "p": "p"},
        ),
    }
