"""Section 3: how ratings and scores are spread, and whether they agree."""

from __future__ import annotations

from redline.analysis import figures as figs
from redline.analysis.distributions import (
    rating_distribution,
    rating_harmlessness_correlation,
    rating_vs_harmlessness,
    score_summary,
)
from redline.analysis.formatting import fmt, integer, percent, table
from redline.analysis.sections.base import SectionContent, SectionContext


class DistributionsSection:
    """Rating and score distributions and the rating-harmlessness correlation."""

    name = "distributions"
    title = "Distributions"
    order = 30
    template = "sections/distributions.html"

    def build(self, context: SectionContext) -> SectionContent:
        frame = context.frame
        by_rating = rating_vs_harmlessness(frame)
        summary = score_summary(frame)
        pearson, spearman, n_both = rating_harmlessness_correlation(frame)
        values = {
            "ratings": table(
                rating_distribution(frame),
                {"rating": "rating", "n": "n", "share": "share"},
                formats={"rating": integer, "share": percent},
            ),
            "scores": table(summary, {c: c for c in summary.columns}),
            "by_rating": table(
                by_rating,
                {
                    "rating": "rating",
                    "n": "n",
                    "mean_min_harmlessness": "mean min-harmlessness",
                    "sd_min_harmlessness": "sd",
                },
                formats={"rating": integer},
            ),
            "correlation": {"pearson": fmt(pearson), "spearman": fmt(spearman), "n": n_both},
        }
        context.figure(figs.distributions_figure(frame, by_rating), "distributions")
        return SectionContent(values=values)
