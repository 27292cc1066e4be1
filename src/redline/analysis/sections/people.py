"""Section 4: who did the work (the paper: ~80% of attacks from ~15% of people)."""

from __future__ import annotations

from redline.analysis import figures as figs
from redline.analysis.formatting import percent, table
from redline.analysis.people import attempts_per_person, concentration
from redline.analysis.sections.base import SectionContent, SectionContext

SHARE = 0.8  # the share of attacks whose authors the headline counts


class PeopleSection:
    """Attempts per red teamer, sorted, and how concentrated they are."""

    name = "people"
    title = "Red teamers"
    order = 40
    template = "sections/people.html"

    def build(self, context: SectionContext) -> SectionContent:
        per_person = attempts_per_person(context.frame)
        context.numbers["per_person"] = per_person
        conc = concentration(per_person, SHARE)
        top = table(
            per_person,
            {
                "rank": "rank",
                "member": "member",
                "pool": "pool",
                "n": "attempts",
                "cum_share": "cumulative share",
            },
            limit=15,
            formats={"cum_share": percent},
        )
        context.figure(figs.people_figure(per_person, SHARE, conc.people_share), "people")
        sentence = conc.sentence() if conc.total_people else "no attempts with an author"
        return SectionContent(values={"concentration": sentence, "top_people": top})
