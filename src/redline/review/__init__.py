"""The review task (DESIGN.md section 5): assignment, the reviewer's queue, the
well-being survey, agreement statistics and the tag taxonomy."""

from redline.review.agreement import RatedItem, agreement, fleiss, ordinal_alpha, tag_counts
from redline.review.assignment import (
    AssignmentReport,
    TargetAssignment,
    assign_reviews,
    target_names,
)
from redline.review.config import ReviewConfig, review_config
from redline.review.report import agreement_report, rated_items, review_progress, tag_table
from redline.review.service import (
    RATING_LABELS,
    RATING_QUESTION,
    QueueItem,
    QueueView,
    ReviewItem,
    ReviewService,
    make_preview,
)
from redline.review.tags import check_tags, load_tags
from redline.review.wellbeing import FEELINGS, wellbeing_summary

__all__ = [
    "FEELINGS",
    "RATING_LABELS",
    "RATING_QUESTION",
    "AssignmentReport",
    "QueueItem",
    "QueueView",
    "RatedItem",
    "ReviewConfig",
    "ReviewItem",
    "ReviewService",
    "TargetAssignment",
    "agreement",
    "agreement_report",
    "assign_reviews",
    "check_tags",
    "fleiss",
    "load_tags",
    "make_preview",
    "ordinal_alpha",
    "rated_items",
    "review_config",
    "review_progress",
    "tag_counts",
    "tag_table",
    "target_names",
    "wellbeing_summary",
]
