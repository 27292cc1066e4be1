"""How the store's attempts were collected, in a few lines for a release's datasheet.

Why in analysis: the facts (dates, origins, pools, template attempts) are analyses of
the store's frames, and :mod:`redline.datasets.release` sits below analysis; the release
takes them as data from its caller instead of importing this layer.
"""

from __future__ import annotations

from typing import Any

import pandas as pd
from sqlalchemy.orm import Session

from redline.analysis.frame import attempts_frame
from redline.analysis.template_attacks import template_attacks
from redline.analysis.texts import transcripts_frame


def collection_facts(session: Session) -> dict[str, Any]:
    """Datasheet lines (label -> value) about the store's attempts; empty for no attempts."""
    facts: dict[str, Any] = {}
    attempts = attempts_frame(session)
    if len(attempts):
        created = pd.to_datetime(attempts["created_at"], utc=True)
        facts["dates in the store"] = f"{created.min():%Y-%m-%d} to {created.max():%Y-%m-%d}"
        facts["origins"] = ", ".join(
            f"{k} {v}" for k, v in attempts["origin"].value_counts().items()
        )
        facts["pools"] = ", ".join(
            f"{k} {v}" for k, v in attempts.drop_duplicates("member")["pool"].value_counts().items()
        )
        facts["template attempts"] = template_attacks(
            transcripts_frame(session), attempts
        ).n_template_attempts
    return facts
