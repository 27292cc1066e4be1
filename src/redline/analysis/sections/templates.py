"""Section 7: template attacks, near-duplicates by one person that inflate counts."""

from __future__ import annotations

from typing import Any

from redline.analysis.formatting import percent, table
from redline.analysis.sections.base import SectionContent, SectionContext
from redline.analysis.template_attacks import template_attacks


class TemplatesSection:
    """Flagged groups of near-duplicate attempts, with examples, and who wrote them."""

    name = "template attacks"
    title = "Template attacks"
    order = 70
    anchor = "templates"
    template = "sections/templates.html"

    def build(self, context: SectionContext) -> SectionContent:
        found = template_attacks(context.texts, context.frame)
        return SectionContent(values={"templates": _values(found)})


def _values(templates: Any) -> dict[str, Any]:
    return {
        "n": templates.n_template_attempts,
        "threshold": templates.threshold,
        "min_repeats": templates.min_repeats,
        "n_groups": len(templates.groups),
        "groups": [
            {
                "n": int(g.n),
                "n_people": int(g.n_people),
                "top_member": int(g.top_member),
                "top_count": int(g.top_count),
                "examples": list(g.examples),
            }
            for g in templates.groups.head(8).itertuples()
        ],
        "people": table(
            templates.people[templates.people["n_template"] > 0],
            {
                "member": "member",
                "n": "attempts",
                "n_template": "template attempts",
                "template_share": "template share",
            },
            limit=15,
            formats={"template_share": percent},
        ),
    }
