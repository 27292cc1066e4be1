"""Section 8: personal information that ``redline release`` removes before publishing."""

from __future__ import annotations

from redline.analysis.sections.base import SectionContent, SectionContext
from redline.datasets.pii import pii_counts


class PiiSection:
    """Matches of the PII detectors in transcripts and task descriptions."""

    name = "pii"
    title = "Personal information"
    order = 80
    template = "sections/pii.html"

    def build(self, context: SectionContext) -> SectionContent:
        texts = context.texts
        found = pii_counts(texts["transcript"].tolist() + texts["task_description"].tolist())
        return SectionContent(values={"pii": dict(sorted(found.items()))})
