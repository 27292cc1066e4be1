"""Section 1: attempts per model type and size (the paper's Table 1)."""

from __future__ import annotations

from redline.analysis.formatting import table
from redline.analysis.sections.base import SectionContent, SectionContext
from redline.analysis.tables import cell_summary


class CellsSection:
    """How many attempts each target cell has, with their mean rating and score."""

    name = "tables"
    title = "Attempts by model type and size"
    order = 10
    anchor = "cells"
    contents = "Attempts by model type and size (Table 1)"
    template = "sections/cells.html"

    def build(self, context: SectionContext) -> SectionContent:
        cells = cell_summary(context.frame)
        context.numbers["cells"] = cells
        columns = {
            "model_type": "model type",
            "size_label": "size",
            "n": "n",
            "mean_rating": "mean rating",
            "mean_min_harmlessness": "mean min-harmlessness",
            "n_scored": "n scored",
        }
        return SectionContent(values={"cells": table(cells, columns)})
