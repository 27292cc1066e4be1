"""The words Redline's data uses for kinds of model and defences, written once.

Why a module of its own: the hh-rlhf ``model_type`` labels, the paper's names for them and
the defence each one stands for were repeated in the dataset reader, the importer, the
figures, the report and the targets; a new label meant editing all of them. This module
is a leaf (it imports nothing from ``redline``), so every layer may use it without
creating an import cycle.
"""

from __future__ import annotations

from typing import Final

#: hh-rlhf ``model_type`` labels (DESIGN.md section 4), in the paper's order.
PLAIN_LM: Final = "plain lm"
#: The published label for the HHH-prompted model (the paper calls it "Prompted LM").
PROMPTED_LM: Final = "context distillation"
REJECTION_SAMPLING: Final = "rejection sampling"
RLHF: Final = "rlhf"
MODEL_TYPES: Final = (PLAIN_LM, PROMPTED_LM, REJECTION_SAMPLING, RLHF)

#: The paper's names, shown to readers instead of the dataset's labels.
PAPER_NAMES: Final = {
    PLAIN_LM: "Plain LM",
    PROMPTED_LM: "Prompted LM",
    REJECTION_SAMPLING: "Rejection sampling",
    RLHF: "RLHF",
}

#: The built-in defence that stands for each label (the one an imported attempt of that
#: label is attributed to; ``rs16`` is the paper's 16 samples).
DEFENCE_OF_MODEL_TYPE: Final = {
    PLAIN_LM: "plain",
    PROMPTED_LM: "hhh",
    REJECTION_SAMPLING: "rs16",
    RLHF: "rlhf",
}

#: How an automated attempt that records no attack strategy is labelled beside the
#: strategies (zero- and few-shot conversations are stored without lineage).
UNRECORDED_STRATEGY: Final = "unrecorded (zero-/few-shot)"
