"""Section 2: attack success by model size and type (the paper's Figure 1)."""

from __future__ import annotations

from redline.analysis import figures as figs
from redline.analysis.formatting import percent, table
from redline.analysis.sections.base import SectionContent, SectionContext
from redline.analysis.success import attack_success

COLUMNS = {
    "model_type": "model type",
    "size_label": "size",
    "n_rated": "n rated",
    "mean_rating": "mean rating",
    "mean_rating_lo": "lo",
    "mean_rating_hi": "hi",
    "success_share": "share >= 3",
    "success_share_lo": "lo",
    "success_share_hi": "hi",
    "n_scored": "n scored",
    "mean_min_harmlessness": "mean min-harml.",
    "mean_min_harmlessness_lo": "lo",
    "mean_min_harmlessness_hi": "hi",
}


class SuccessSection:
    """Self-rated success and min-harmlessness per cell with bootstrap intervals."""

    name = "attack success"
    title = "Attack success by model size and type"
    order = 20
    anchor = "success"
    contents = "Attack success (Figure 1)"
    template = "sections/success.html"

    def build(self, context: SectionContext) -> SectionContent:
        success = attack_success(context.frame, n_boot=context.n_boot, seed=context.seed)
        context.numbers["success"] = success
        shares = {c: percent for c in ("success_share", "success_share_lo", "success_share_hi")}
        context.figure(figs.attack_success_figure(success, context.frame), "attack_success", True)
        return SectionContent(values={"success": table(success, COLUMNS, formats=shares)})
