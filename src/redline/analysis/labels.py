"""The paper's names for model types, shown to readers instead of the dataset's labels.

Readers of Ganguli et al. (2022) know "Prompted LM", not "context distillation" (the
label the published data uses for the HHH-prompted model). Figures and tables show the
paper's names; the report's captions give the dataset labels once. Labels the paper
does not know (campaign targets) are shown as they are.
"""

from __future__ import annotations

from redline.vocabulary import PAPER_NAMES


def paper_name(model_type: object) -> str:
    """The paper's name for a dataset model-type label (unknown labels unchanged)."""
    return PAPER_NAMES.get(str(model_type), str(model_type))


CAPTION = (
    "Model types use the paper's names; the dataset's labels are "
    + ", ".join(f"{name} = “{label}”" for label, name in PAPER_NAMES.items())
    + "."
)
