"""Section 6: what kinds of harm were attempted, and which succeeded."""

from __future__ import annotations

from redline.analysis import figures as figs
from redline.analysis.formatting import percent, table
from redline.analysis.sections.base import SectionContent, SectionContext
from redline.analysis.tags import tag_frequencies

COLUMNS = {
    "model_type": "model type",
    "tag": "tag",
    "n_all": "n",
    "share_all": "share of all",
    "n_successful": "n successful",
    "share_successful": "share of successful",
    "n_tagged": "tagged attempts",
}


class TagsSection:
    """Tag frequencies among all and among successful attempts."""

    name = "tags"
    title = "Tags"
    order = 60
    template = "sections/tags.html"

    def build(self, context: SectionContext) -> SectionContent:
        tags = tag_frequencies(context.frame)
        shares = {"share_all": percent, "share_successful": percent}
        if len(tags):
            context.figure(figs.tags_figure(tags), "tags")
        return SectionContent(values={"tags": table(tags, COLUMNS, limit=60, formats=shares)})
