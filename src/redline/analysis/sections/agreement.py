"""Section 5: how far reviewers (and the red teamer) agree, beside the paper's values."""

from __future__ import annotations

from typing import Any

from redline.analysis.sections.base import SectionContent, SectionContext
from redline.review.agreement import PAPER, STATISTICS, agreement, format_estimate

HEADER = [
    "statistic",
    "reviewers only (95% CI)",
    "paper",
    "reviewers + red teamer (95% CI)",
    "paper",
]


class AgreementSection:
    """Fleiss' kappa and Krippendorff's alpha of the review task (a note without reviews)."""

    name = "agreement"
    title = "Inter-rater agreement"
    order = 50
    template = "sections/agreement.html"

    def build(self, context: SectionContext) -> SectionContent:
        return SectionContent(
            values={"agreement": summary(context.reviews, n_boot=context.n_boot, seed=context.seed)}
        )


def summary(reviews: Any, *, n_boot: int, seed: int) -> dict[str, Any] | None:
    """The review task's agreement statistics beside the paper's (None: no reviews)."""
    if not reviews:
        return None
    stats = agreement(list(reviews), n_boot=n_boot, seed=seed)
    rows = [
        [
            label,
            format_estimate(stats[f"{key}_reviewers"]),
            f"up to {PAPER[paper_reviewers]:.2f}" if paper_reviewers else "–",
            format_estimate(stats[f"{key}_with_author"]),
            f"{PAPER[paper_with]:.2f}" if paper_with else "–",
        ]
        for key, label, paper_with, paper_reviewers in STATISTICS
    ]
    return {
        "items": len(reviews),
        "raters": stats["reviewers_per_item"],
        "n_boot": n_boot,
        "table": {"header": HEADER, "rows": rows, "total": len(rows)},
    }
